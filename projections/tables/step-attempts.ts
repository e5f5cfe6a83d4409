import type { Queryable } from "../database";
import type { AttemptPatch, AttemptRow } from "../rows";
import { recordsetJson } from "../sql-json";

export async function insertAttempts(db: Queryable, rows: readonly AttemptRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_step_attempts (workflow_id, step_seq, attempt, step_name, task_queue, status,
                                     worker_id, timeout_ms, scheduled_at, started_at, finished_at,
                                     duration_ms, error, result)
     SELECT workflow_id, step_seq, attempt, step_name, task_queue, status, worker_id, timeout_ms,
            scheduled_at, started_at, finished_at, duration_ms, error, result
       FROM json_to_recordset($1::json) AS v(
              workflow_id text, step_seq integer, attempt integer, step_name text,
              task_queue text, status text, worker_id text, timeout_ms integer,
              scheduled_at timestamptz, started_at timestamptz, finished_at timestamptz,
              duration_ms bigint, error jsonb, result jsonb)`,
    [recordsetJson(rows)],
  );
}

/**
 * Attempts scheduled in an earlier batch. A null leaves the column as it is (the same rule the
 * fold applies within a batch); duration_ms follows from the times the row ends up with.
 */
export async function updateAttempts(db: Queryable, rows: readonly AttemptPatch[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE weft_step_attempts AS a
        SET status = n.status,
            worker_id = n.worker_id,
            started_at = n.started_at,
            finished_at = n.finished_at,
            error = n.error,
            result = n.result,
            duration_ms = round(extract(epoch FROM n.finished_at - n.started_at) * 1000)::bigint
       FROM (SELECT v.workflow_id, v.step_seq, v.attempt, v.status,
                    COALESCE(v.worker_id, o.worker_id) AS worker_id,
                    COALESCE(v.started_at, o.started_at) AS started_at,
                    COALESCE(v.finished_at, o.finished_at) AS finished_at,
                    COALESCE(v.error, o.error) AS error,
                    COALESCE(v.result, o.result) AS result
               FROM json_to_recordset($1::json) AS v(
                      workflow_id text, step_seq integer, attempt integer, status text,
                      worker_id text, started_at timestamptz, finished_at timestamptz,
                      error jsonb, result jsonb)
               JOIN weft_step_attempts AS o USING (workflow_id, step_seq, attempt)) AS n
      WHERE (a.workflow_id, a.step_seq, a.attempt) = (n.workflow_id, n.step_seq, n.attempt)`,
    [recordsetJson(rows)],
  );
}
