import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { AttemptPatch, AttemptRow } from "../rows";

const ATTEMPT = {
  workflow_id: "text",
  step_seq: "integer",
  attempt: "integer",
  step_name: "text",
  task_queue: "text",
  status: "text",
  worker_id: "text",
  timeout_ms: "integer",
  scheduled_at: "timestamptz",
  started_at: "timestamptz",
  finished_at: "timestamptz",
  duration_ms: "bigint",
  error: "jsonb",
  result: "jsonb",
} as const;
const COLUMNS = Object.keys(ATTEMPT) as (keyof typeof ATTEMPT)[];

const PATCH = {
  workflow_id: "text",
  step_seq: "integer",
  attempt: "integer",
  status: "text",
  worker_id: "text",
  started_at: "timestamptz",
  finished_at: "timestamptz",
  error: "jsonb",
  result: "jsonb",
} as const;

export async function insertAttempts(db: ReadModelDb, rows: readonly AttemptRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_step_attempts")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_step_attempts"]>(rows, ATTEMPT))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .execute();
}

/**
 * Attempts scheduled in an earlier batch. A null leaves the column as it is (the same rule the
 * fold applies within a batch); duration_ms follows from the times the row ends up with.
 */
export async function updateAttempts(
  db: ReadModelDb,
  rows: readonly AttemptPatch[],
): Promise<void> {
  if (rows.length === 0) return;
  const { dialect } = db;
  const merged = db.db
    .selectFrom(dialect.recordset<ReadModelTables["weft_step_attempts"]>(rows, PATCH))
    .innerJoin("weft_step_attempts as o", (join) =>
      join
        .onRef("o.workflow_id", "=", "v.workflow_id")
        .onRef("o.step_seq", "=", "v.step_seq")
        .onRef("o.attempt", "=", "v.attempt"),
    )
    .select((eb) => [
      "v.workflow_id",
      "v.step_seq",
      "v.attempt",
      "v.status",
      eb.fn.coalesce("v.worker_id", "o.worker_id").as("worker_id"),
      eb.fn.coalesce("v.started_at", "o.started_at").as("started_at"),
      eb.fn.coalesce("v.finished_at", "o.finished_at").as("finished_at"),
      eb.fn.coalesce("v.error", "o.error").as("error"),
      eb.fn.coalesce("v.result", "o.result").as("result"),
    ])
    .as("n");
  await db.db
    .updateTable("weft_step_attempts as a")
    .from(merged)
    .set((eb) => ({
      status: eb.ref("n.status"),
      worker_id: eb.ref("n.worker_id"),
      started_at: eb.ref("n.started_at"),
      finished_at: eb.ref("n.finished_at"),
      error: eb.ref("n.error"),
      result: eb.ref("n.result"),
      duration_ms: dialect.msBetween(eb.ref("n.started_at"), eb.ref("n.finished_at")),
    }))
    .whereRef("a.workflow_id", "=", "n.workflow_id")
    .whereRef("a.step_seq", "=", "n.step_seq")
    .whereRef("a.attempt", "=", "n.attempt")
    .execute();
}
