import type { Queryable } from "../database";
import type { DefinitionRow } from "../rows";
import { recordsetJson } from "../sql-json";

/**
 * Versions of workflow and step types registered in the batch. Seen before: first_seen and
 * last_seen only widen (LEAST / GREATEST), so the rows do not depend on the order of beats.
 */
export async function upsertDefinitions(
  db: Queryable,
  rows: readonly DefinitionRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_definitions AS d (kind, name, hash, task_queue, retry, timeout_ms,
                                        first_seen, last_seen)
     SELECT kind, name, hash, task_queue, retry, timeout_ms, first_seen, last_seen
       FROM json_to_recordset($1::json) AS v(
              kind text, name text, hash text, task_queue text, retry jsonb, timeout_ms bigint,
              first_seen timestamptz, last_seen timestamptz)
     ON CONFLICT (kind, name, hash) DO UPDATE
        SET first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
            last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)`,
    [recordsetJson(rows)],
  );
}
