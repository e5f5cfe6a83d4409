import type { Queryable } from "../database";
import type { SignalPatch, SignalRow } from "../rows";
import { recordsetJson } from "../sql-json";

export async function insertSignals(db: Queryable, rows: readonly SignalRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_signals (workflow_id, seq, name, payload, request_id, received_at, wait_seq)
     SELECT workflow_id, seq, name, payload, request_id, received_at, wait_seq
       FROM json_to_recordset($1::json) AS v(
              workflow_id text, seq integer, name text, payload jsonb, request_id text,
              received_at timestamptz, wait_seq integer)`,
    [recordsetJson(rows)],
  );
}

/** Signals buffered in an earlier batch that a wait has now taken. */
export async function updateSignals(db: Queryable, rows: readonly SignalPatch[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE weft_signals AS s
        SET wait_seq = v.wait_seq
       FROM json_to_recordset($1::json) AS v(workflow_id text, seq integer, wait_seq integer)
      WHERE (s.workflow_id, s.seq) = (v.workflow_id, v.seq)`,
    [recordsetJson(rows)],
  );
}
