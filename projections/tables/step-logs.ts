import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { StepLogRow } from "../rows";

const STEP_LOG = {
  workflow_id: "text",
  step_seq: "integer",
  attempt: "integer",
  step_name: "text",
  worker_id: "text",
  at: "timestamptz",
  lines: "jsonb",
  dropped: "integer",
} as const;
const COLUMNS = Object.keys(STEP_LOG) as (keyof typeof STEP_LOG)[];
const KEY = ["workflow_id", "step_seq", "attempt"] as const;

/** An attempt's record replaces the attempt's row (rows of a batch are one per attempt). */
export async function upsertStepLogs(db: ReadModelDb, rows: readonly StepLogRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_step_logs")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_step_logs"]>(rows, STEP_LOG))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .onConflict((oc) =>
      oc
        .columns(KEY)
        .doUpdateSet((eb) =>
          Object.fromEntries(
            COLUMNS.filter((c) => !(KEY as readonly string[]).includes(c)).map((c) => [
              c,
              eb.ref(`excluded.${c}`),
            ]),
          ),
        ),
    )
    .execute();
}
