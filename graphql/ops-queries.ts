import { InvalidInputError } from "../core/errors";
import type { Queryable } from "../projections/database";

/** Reads for operators: failures, pending timers and the overview's figures. */

export const MAX_LIST_SIZE = 500;
const THROUGHPUT_MINUTES = 15;
const MINUTE_MS = 60_000;

export function checkListSize(first: number, what = "first"): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_LIST_SIZE) {
    throw new InvalidInputError(`${what} must be from 1 to ${MAX_LIST_SIZE}, got ${first}`);
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
  db: Queryable,
  first: number,
  workflowType?: string | null,
): Promise<FailedStepRow[]> {
  const values: unknown[] = [checkListSize(first)];
  const byType = workflowType ? `AND r.workflow_type = $${values.push(workflowType)}` : "";
  const { rows } = await db.query<FailedStepRow>(
    `SELECT a.workflow_id, r.workflow_type, a.step_seq, a.attempt, a.step_name, a.task_queue,
            a.status, a.worker_id, a.error, a.started_at, a.finished_at
       FROM weft_step_attempts a JOIN weft_runs r ON r.workflow_id = a.workflow_id
      WHERE a.status IN ('failed', 'timed_out') ${byType}
      ORDER BY a.finished_at DESC, a.workflow_id, a.step_seq, a.attempt
      LIMIT $1`,
    values,
  );
  return rows;
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
export async function pendingTimers(db: Queryable, first: number): Promise<PendingTimerRow[]> {
  const { rows } = await db.query<PendingTimerRow>(
    `SELECT t.workflow_id, r.workflow_type, t.kind, t.seq, t.attempt, t.due_at
       FROM weft_timers t JOIN weft_runs r ON r.workflow_id = t.workflow_id
      WHERE t.status = 'pending'
      ORDER BY t.due_at, t.workflow_id, t.kind, t.seq, t.attempt
      LIMIT $1`,
    [checkListSize(first)],
  );
  return rows;
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
  db: Queryable,
  statuses: readonly string[],
): Promise<StatusCountRow[]> {
  const { rows } = await db.query<{ status: string; count: string }>(
    "SELECT status, count(*) AS count FROM weft_runs GROUP BY status",
  );
  const counts = new Map(rows.map((r) => [r.status, Number(r.count)]));
  return statuses.map((status) => ({ status, count: counts.get(status) ?? 0 }));
}

/** Runs started, completed and failed in each of the last 15 minutes, oldest first. */
export async function throughput(db: Queryable, now = Date.now()): Promise<ThroughputPoint[]> {
  const firstMinute =
    Math.floor(now / MINUTE_MS) * MINUTE_MS - (THROUGHPUT_MINUTES - 1) * MINUTE_MS;
  const since = new Date(firstMinute).toISOString();
  const [started, closed] = await Promise.all([
    db.query<{ minute: Date; count: string }>(
      `SELECT date_trunc('minute', started_at) AS minute, count(*) AS count
         FROM weft_runs WHERE started_at >= $1 GROUP BY 1`,
      [since],
    ),
    db.query<{ minute: Date; status: string; count: string }>(
      `SELECT date_trunc('minute', closed_at) AS minute, status, count(*) AS count
         FROM weft_runs WHERE closed_at >= $1 AND status IN ('completed', 'failed') GROUP BY 1, 2`,
      [since],
    ),
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
  for (const row of started.rows) {
    const point = points.get(row.minute.getTime());
    if (point) point.started = Number(row.count);
  }
  for (const row of closed.rows) {
    const point = points.get(row.minute.getTime());
    if (!point) continue;
    if (row.status === "completed") point.completed = Number(row.count);
    else point.failed = Number(row.count);
  }
  return [...points.values()];
}

export async function pendingTimerCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    "SELECT count(*) AS count FROM weft_timers WHERE status = 'pending'",
  );
  return Number(rows[0]?.count ?? 0);
}
