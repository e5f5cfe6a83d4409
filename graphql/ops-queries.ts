import { sql } from "kysely";
import { InvalidInputError } from "../core/errors";
import type { ReadModelDb } from "../projections/read-model-db";

/** Reads for operators: failures, pending timers and the overview's figures. */

export const MAX_LIST_SIZE = 500;
const THROUGHPUT_MINUTES = 15;
const MINUTE_MS = 60_000;

/** `first`, checked to be a whole number from 1 to `max`. */
export function checkListSize(first: number, max = MAX_LIST_SIZE): number {
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw new InvalidInputError(`first must be from 1 to ${max}, got ${first}`);
  }
  return first;
}

export interface FailedStepRow {
  workflow_id: string;
  workflow_type: string;
  step_seq: number;
  attempt: number;
  step_name: string;
  task_queue: string;
  status: string;
  worker_id: string | null;
  error: unknown;
  started_at: Date | null;
  finished_at: Date;
}

/** The latest failed or timed-out attempts, newest first (the partial index on finished_at). */
export async function failedSteps(
  db: ReadModelDb,
  first: number,
  workflowType?: string | null,
): Promise<FailedStepRow[]> {
  let query = db.db
    .selectFrom("weft_step_attempts as a")
    .innerJoin("weft_runs as r", "r.workflow_id", "a.workflow_id")
    .select([
      "a.workflow_id",
      "r.workflow_type",
      "a.step_seq",
      "a.attempt",
      "a.step_name",
      "a.task_queue",
      "a.status",
      "a.worker_id",
      "a.error",
      "a.started_at",
      "a.finished_at",
    ])
    .where("a.status", "in", ["failed", "timed_out"]);
  if (workflowType) query = query.where("r.workflow_type", "=", workflowType);
  const rows = await query
    .orderBy("a.finished_at", "desc")
    .orderBy("a.workflow_id")
    .orderBy("a.step_seq")
    .orderBy("a.attempt")
    .limit(checkListSize(first))
    .execute();
  return rows as FailedStepRow[];
}

export interface PendingTimerRow {
  workflow_id: string;
  workflow_type: string;
  kind: string;
  seq: number;
  attempt: number;
  due_at: Date;
}

/** Pending timers, soonest first (the partial index on due_at). */
export async function pendingTimers(db: ReadModelDb, first: number): Promise<PendingTimerRow[]> {
  return db.db
    .selectFrom("weft_timers as t")
    .innerJoin("weft_runs as r", "r.workflow_id", "t.workflow_id")
    .select(["t.workflow_id", "r.workflow_type", "t.kind", "t.seq", "t.attempt", "t.due_at"])
    .where("t.status", "=", "pending")
    .orderBy("t.due_at")
    .orderBy("t.workflow_id")
    .orderBy("t.kind")
    .orderBy("t.seq")
    .orderBy("t.attempt")
    .limit(checkListSize(first))
    .execute();
}

export interface StatusCountRow {
  status: string;
  count: number;
}

export interface ThroughputPoint {
  minute: string;
  started: number;
  completed: number;
  failed: number;
}

/** Runs per status; every status is listed, with 0 when none. */
export async function countsByStatus(
  db: ReadModelDb,
  statuses: readonly string[],
): Promise<StatusCountRow[]> {
  const rows = await db.db
    .selectFrom("weft_runs")
    .select((eb) => ["status", eb.fn.countAll<string | number>().as("count")])
    .groupBy("status")
    .execute();
  const counts = new Map(rows.map((r) => [r.status, Number(r.count)]));
  return statuses.map((status) => ({ status, count: counts.get(status) ?? 0 }));
}

/** Runs started, completed and failed in each of the last 15 minutes, oldest first. */
export async function throughput(db: ReadModelDb, now = Date.now()): Promise<ThroughputPoint[]> {
  const firstMinute =
    Math.floor(now / MINUTE_MS) * MINUTE_MS - (THROUGHPUT_MINUTES - 1) * MINUTE_MS;
  const since = db.dialect.time(firstMinute) as never;
  const { dialect } = db;
  const [started, closed] = await Promise.all([
    db.db
      .selectFrom("weft_runs")
      .select((eb) => [
        dialect.minuteOf(eb.ref("started_at")).as("minute"),
        eb.fn.countAll<string | number>().as("count"),
      ])
      .where("started_at", ">=", since)
      .groupBy(sql.raw("1"))
      .execute(),
    db.db
      .selectFrom("weft_runs")
      .select((eb) => [
        dialect.minuteOf(eb.ref("closed_at")).as("minute"),
        "status",
        eb.fn.countAll<string | number>().as("count"),
      ])
      .where("closed_at", ">=", since)
      .where("status", "in", ["completed", "failed"])
      .groupBy([sql.raw("1"), sql.raw("2")])
      .execute(),
  ]);
  const points = new Map<number, ThroughputPoint>();
  for (let i = 0; i < THROUGHPUT_MINUTES; i++) {
    const minute = firstMinute + i * MINUTE_MS;
    points.set(minute, {
      minute: new Date(minute).toISOString(),
      started: 0,
      completed: 0,
      failed: 0,
    });
  }
  for (const row of started) {
    const point = points.get(row.minute.getTime());
    if (point) point.started = Number(row.count);
  }
  for (const row of closed) {
    const point = points.get(row.minute.getTime());
    if (!point) continue;
    if (row.status === "completed") point.completed = Number(row.count);
    else point.failed = Number(row.count);
  }
  return [...points.values()];
}

export async function pendingTimerCount(db: ReadModelDb): Promise<number> {
  const row = await db.db
    .selectFrom("weft_timers")
    .select((eb) => eb.fn.countAll<string | number>().as("count"))
    .where("status", "=", "pending")
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}
