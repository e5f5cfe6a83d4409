import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { PendingRunRow, RunInsertRow, RunState, RunUpdateRow } from "../rows";

/**
 * The state columns of the batch's runs that earlier batches of history wrote. A pending row
 * (from a start command) is not history's: the run's WorkflowStarted replaces it whole.
 */
export async function loadRunStates(
  db: ReadModelDb,
  workflowIds: readonly string[],
): Promise<Map<string, RunState>> {
  const states = new Map<string, RunState>();
  if (workflowIds.length === 0) return states;
  const rows = await db.db
    .selectFrom("weft_runs")
    .select([
      "workflow_id",
      "status",
      "last_seq",
      "waiting_on",
      "buffered_signals",
      "blocked_code",
      "blocked_reason",
      "run_number",
    ])
    .where((eb) => db.dialect.inList(eb.ref("workflow_id"), workflowIds))
    .where("status", "<>", "pending")
    .execute();
  for (const row of rows) {
    states.set(row.workflow_id, {
      workflowId: row.workflow_id,
      status: row.status as RunState["status"],
      lastSeq: row.last_seq,
      waitingOn: row.waiting_on as RunState["waitingOn"],
      bufferedSignals: row.buffered_signals as RunState["bufferedSignals"],
      blockedCode: row.blocked_code,
      blockedReason: row.blocked_reason,
      runNumber: row.run_number,
    });
  }
  return states;
}

const RUN = {
  workflow_id: "text",
  workflow_type: "text",
  status: "text",
  input: "jsonb",
  result: "jsonb",
  error: "jsonb",
  idempotency_key: "text",
  blocked_code: "text",
  blocked_reason: "text",
  waiting_on: "jsonb",
  buffered_signals: "jsonb",
  started_at: "timestamptz",
  closed_at: "timestamptz",
  last_seq: "integer",
  updated_at: "timestamptz",
  run_number: "integer",
  run_start_seq: "integer",
  state: "jsonb",
  definition_hash: "text",
  parent_workflow_id: "text",
} as const;
const COLUMNS = Object.keys(RUN) as (keyof typeof RUN)[];

function insertFromBatch(
  db: ReadModelDb,
  rows: readonly RunInsertRow[] | readonly PendingRunRow[],
) {
  return db.db
    .insertInto("weft_runs")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_runs"]>(rows, RUN))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    );
}

/**
 * Runs whose WorkflowStarted is in the batch. A pending row of the run (its start command was
 * projected first) is replaced whole, so the row is the same whichever topic came first.
 */
export async function insertRuns(db: ReadModelDb, rows: readonly RunInsertRow[]): Promise<void> {
  if (rows.length === 0) return;
  await insertFromBatch(db, rows)
    .onConflict((oc) =>
      oc
        .column("workflow_id")
        .doUpdateSet((eb) => Object.fromEntries(COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)])))
        .where("weft_runs.status", "=", "pending"),
    )
    .execute();
}

/**
 * Rows handed to the next run of their workflow ID (a run continued as new): every column is
 * the new run's, whatever the row held.
 */
export async function restartRuns(db: ReadModelDb, rows: readonly RunInsertRow[]): Promise<void> {
  if (rows.length === 0) return;
  await insertFromBatch(db, rows)
    .onConflict((oc) =>
      oc
        .column("workflow_id")
        .doUpdateSet((eb) => Object.fromEntries(COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)]))),
    )
    .execute();
}

/**
 * Runs whose start command was seen. A run that has a row (history came first, or a repeated
 * start) keeps it. Returns the IDs inserted.
 */
export async function insertPendingRuns(
  db: ReadModelDb,
  rows: readonly PendingRunRow[],
): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await insertFromBatch(db, rows)
    .onConflict((oc) => oc.column("workflow_id").doNothing())
    .returning("workflow_id")
    .execute();
  return inserted.map((r) => r.workflow_id);
}

const UPDATE = {
  workflow_id: "text",
  status: "text",
  result: "jsonb",
  error: "jsonb",
  blocked_code: "text",
  blocked_reason: "text",
  waiting_on: "jsonb",
  buffered_signals: "jsonb",
  closed_at: "timestamptz",
  last_seq: "integer",
  updated_at: "timestamptz",
  state: "jsonb",
  state_set: "integer",
} as const;

/**
 * Sets the state columns; result, error and closed_at only where the row gives them, the run
 * state only where the row says it set one (a state may be JSON null, so no coalesce).
 */
export async function updateRuns(db: ReadModelDb, rows: readonly RunUpdateRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .updateTable("weft_runs as r")
    .from(db.dialect.recordset<ReadModelTables["weft_runs"] & { state_set: number }>(rows, UPDATE))
    .set((eb) => ({
      status: eb.ref("v.status"),
      result: eb.fn.coalesce("v.result", "r.result"),
      error: eb.fn.coalesce("v.error", "r.error"),
      blocked_code: eb.ref("v.blocked_code"),
      blocked_reason: eb.ref("v.blocked_reason"),
      waiting_on: eb.ref("v.waiting_on"),
      buffered_signals: eb.ref("v.buffered_signals"),
      closed_at: eb.fn.coalesce("v.closed_at", "r.closed_at"),
      last_seq: eb.ref("v.last_seq"),
      updated_at: eb.ref("v.updated_at"),
      state: eb
        .case()
        .when("v.state_set", "=", 1)
        .then(eb.ref("v.state"))
        .else(eb.ref("r.state"))
        .end(),
    }))
    .whereRef("r.workflow_id", "=", "v.workflow_id")
    .execute();
}
