import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { SignalPatch, SignalRow } from "../rows";

const SIGNAL = {
  workflow_id: "text",
  seq: "integer",
  name: "text",
  payload: "jsonb",
  request_id: "text",
  received_at: "timestamptz",
  wait_seq: "integer",
} as const;
const COLUMNS = Object.keys(SIGNAL) as (keyof typeof SIGNAL)[];

export async function insertSignals(db: ReadModelDb, rows: readonly SignalRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_signals")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_signals"]>(rows, SIGNAL))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .execute();
}

/** Signals buffered in an earlier batch that a wait has now taken. */
export async function updateSignals(db: ReadModelDb, rows: readonly SignalPatch[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .updateTable("weft_signals as s")
    .from(
      db.dialect.recordset<ReadModelTables["weft_signals"]>(rows, {
        workflow_id: "text",
        seq: "integer",
        wait_seq: "integer",
      }),
    )
    .set((eb) => ({ wait_seq: eb.ref("v.wait_seq") }))
    .whereRef("s.workflow_id", "=", "v.workflow_id")
    .whereRef("s.seq", "=", "v.seq")
    .execute();
}
