import type { Queryable } from "../database";
import type { PendingRunRow, RunInsertRow, RunState, RunUpdateRow } from "../rows";
import { recordsetJson } from "../sql-json";

/**
 * The state columns of the batch's runs that earlier batches of history wrote. A pending row
 * (from a start command) is not history's: the run's WorkflowStarted replaces it whole.
 */
export async function loadRunStates(
  db: Queryable,
  workflowIds: readonly string[],
): Promise<Map<string, RunState>> {
  const states = new Map<string, RunState>();
  if (workflowIds.length === 0) return states;
  const { rows } = await db.query<{
    workflow_id: string;
    status: RunState["status"];
    last_seq: number;
    waiting_on: RunState["waitingOn"];
    buffered_signals: RunState["bufferedSignals"];
    blocked_code: string | null;
    blocked_reason: string | null;
  }>(
    `SELECT workflow_id, status, last_seq, waiting_on, buffered_signals, blocked_code, blocked_reason
       FROM weft_runs WHERE workflow_id = ANY($1::text[]) AND status <> 'pending'`,
    [workflowIds],
  );
  for (const row of rows) {
    states.set(row.workflow_id, {
      workflowId: row.workflow_id,
      status: row.status,
      lastSeq: row.last_seq,
      waitingOn: row.waiting_on,
      bufferedSignals: row.buffered_signals,
      blockedCode: row.blocked_code,
      blockedReason: row.blocked_reason,
    });
  }
  return states;
}

const RUN_COLUMNS = `workflow_id, workflow_type, status, input, result, error, idempotency_key,
  blocked_code, blocked_reason, waiting_on, buffered_signals, started_at, closed_at, last_seq,
  updated_at`;
const RUN_RECORD = `workflow_id text, workflow_type text, status text, input jsonb, result jsonb,
  error jsonb, idempotency_key text, blocked_code text, blocked_reason text, waiting_on jsonb,
  buffered_signals jsonb, started_at timestamptz, closed_at timestamptz, last_seq integer,
  updated_at timestamptz`;

/**
 * Runs whose WorkflowStarted is in the batch. A pending row of the run (its start command was
 * projected first) is replaced whole, so the row is the same whichever topic came first.
 */
export async function insertRuns(db: Queryable, rows: readonly RunInsertRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_runs AS r (${RUN_COLUMNS})
     SELECT ${RUN_COLUMNS} FROM json_to_recordset($1::json) AS v(${RUN_RECORD})
     ON CONFLICT (workflow_id) DO UPDATE
        SET (${RUN_COLUMNS}) = (
              EXCLUDED.workflow_id, EXCLUDED.workflow_type, EXCLUDED.status, EXCLUDED.input,
              EXCLUDED.result, EXCLUDED.error, EXCLUDED.idempotency_key, EXCLUDED.blocked_code,
              EXCLUDED.blocked_reason, EXCLUDED.waiting_on, EXCLUDED.buffered_signals,
              EXCLUDED.started_at, EXCLUDED.closed_at, EXCLUDED.last_seq, EXCLUDED.updated_at)
      WHERE r.status = 'pending'`,
    [recordsetJson(rows)],
  );
}

/**
 * Runs whose start command was seen. A run that has a row (history came first, or a repeated
 * start) keeps it. Returns the IDs inserted.
 */
export async function insertPendingRuns(
  db: Queryable,
  rows: readonly PendingRunRow[],
): Promise<string[]> {
  if (rows.length === 0) return [];
  const { rows: inserted } = await db.query<{ workflow_id: string }>(
    `INSERT INTO weft_runs (${RUN_COLUMNS})
     SELECT ${RUN_COLUMNS} FROM json_to_recordset($1::json) AS v(${RUN_RECORD})
     ON CONFLICT (workflow_id) DO NOTHING
     RETURNING workflow_id`,
    [recordsetJson(rows)],
  );
  return inserted.map((r) => r.workflow_id);
}

/** Sets the state columns; result, error and closed_at only where the row gives them. */
export async function updateRuns(db: Queryable, rows: readonly RunUpdateRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE weft_runs AS r
        SET status = v.status,
            result = COALESCE(v.result, r.result),
            error = COALESCE(v.error, r.error),
            blocked_code = v.blocked_code,
            blocked_reason = v.blocked_reason,
            waiting_on = v.waiting_on,
            buffered_signals = v.buffered_signals,
            closed_at = COALESCE(v.closed_at, r.closed_at),
            last_seq = v.last_seq,
            updated_at = v.updated_at
       FROM json_to_recordset($1::json) AS v(
              workflow_id text, status text, result jsonb, error jsonb, blocked_code text,
              blocked_reason text, waiting_on jsonb, buffered_signals jsonb,
              closed_at timestamptz, last_seq integer, updated_at timestamptz)
      WHERE r.workflow_id = v.workflow_id`,
    [recordsetJson(rows)],
  );
}
