import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { ProcessRow } from "../rows";

const PROCESS = {
  process_id: "text",
  roles: "text[]",
  host: "text",
  pid: "integer",
  queues: "text[]",
  workflows: "text[]",
  steps: "text[]",
  definitions: "text[]",
  in_flight: "integer",
  concurrency: "integer",
  interval_ms: "integer",
  started_at: "timestamptz",
  last_seen: "timestamptz",
  stopped_at: "timestamptz",
} as const;
const COLUMNS = Object.keys(PROCESS) as (keyof typeof PROCESS)[];

/** The latest registration of each process of the batch replaces its row. */
export async function upsertProcesses(db: ReadModelDb, rows: readonly ProcessRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_processes")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_processes"]>(rows, PROCESS))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .onConflict((oc) =>
      oc
        .column("process_id")
        .doUpdateSet((eb) =>
          Object.fromEntries(
            COLUMNS.filter((c) => c !== "process_id").map((c) => [c, eb.ref(`excluded.${c}`)]),
          ),
        ),
    )
    .execute();
}
