import type { Queryable } from "../database";
import type { ProcessRow } from "../rows";
import { recordsetJson } from "../sql-json";

/** The latest registration of each process of the batch replaces its row. */
export async function upsertProcesses(db: Queryable, rows: readonly ProcessRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO weft_processes (process_id, roles, host, pid, queues, workflows, steps,
                                 definitions, in_flight, concurrency, interval_ms, started_at,
                                 last_seen, stopped_at)
     SELECT process_id, roles, host, pid, queues, workflows, steps, definitions, in_flight,
            concurrency, interval_ms, started_at, last_seen, stopped_at
       FROM json_to_recordset($1::json) AS v(
              process_id text, roles text[], host text, pid integer, queues text[],
              workflows text[], steps text[], definitions text[], in_flight integer,
              concurrency integer, interval_ms integer, started_at timestamptz,
              last_seen timestamptz, stopped_at timestamptz)
     ON CONFLICT (process_id) DO UPDATE
        SET (roles, host, pid, queues, workflows, steps, definitions, in_flight, concurrency,
             interval_ms, started_at, last_seen, stopped_at) = (
              EXCLUDED.roles, EXCLUDED.host, EXCLUDED.pid, EXCLUDED.queues, EXCLUDED.workflows,
              EXCLUDED.steps, EXCLUDED.definitions, EXCLUDED.in_flight, EXCLUDED.concurrency,
              EXCLUDED.interval_ms, EXCLUDED.started_at, EXCLUDED.last_seen, EXCLUDED.stopped_at)`,
    [recordsetJson(rows)],
  );
}
