import type { Queryable } from "../database";
import type { EventRow } from "../rows";
import { recordsetJson } from "../sql-json";

export async function insertEvents(db: Queryable, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_events (workflow_id, seq, type, at, body)
     SELECT workflow_id, seq, type, at, body
       FROM json_to_recordset($1::json)
            AS v(workflow_id text, seq integer, type text, at timestamptz, body jsonb)`,
    [recordsetJson(rows)],
  );
}
