import type { Queryable } from "../database";
import type { TimerPatch, TimerRow } from "../rows";
import { recordsetJson } from "../sql-json";

/**
 * Timers started in the batch. A step timeout starts again when a second worker reports the
 * same attempt started, so an existing row is replaced.
 */
export async function upsertTimers(db: Queryable, rows: readonly TimerRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_timers (workflow_id, kind, seq, attempt, due_at, fired_at, status)
     SELECT workflow_id, kind, seq, attempt, due_at, fired_at, status
       FROM json_to_recordset($1::json) AS v(
              workflow_id text, kind text, seq integer, attempt integer, due_at timestamptz,
              fired_at timestamptz, status text)
     ON CONFLICT (workflow_id, kind, seq, attempt)
     DO UPDATE SET due_at = EXCLUDED.due_at, fired_at = EXCLUDED.fired_at, status = EXCLUDED.status`,
    [recordsetJson(rows)],
  );
}

/** Timers started in an earlier batch that fired or were cancelled. */
export async function updateTimers(db: Queryable, rows: readonly TimerPatch[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE weft_timers AS t
        SET fired_at = v.fired_at, status = v.status
       FROM json_to_recordset($1::json) AS v(
              workflow_id text, kind text, seq integer, attempt integer, fired_at timestamptz,
              status text)
      WHERE (t.workflow_id, t.kind, t.seq, t.attempt) = (v.workflow_id, v.kind, v.seq, v.attempt)`,
    [recordsetJson(rows)],
  );
}
