import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { EventRow } from "../rows";

const EVENT = {
  workflow_id: "text",
  seq: "integer",
  type: "text",
  at: "timestamptz",
  body: "jsonb",
} as const;

export async function insertEvents(db: ReadModelDb, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_events")
    .columns(["workflow_id", "seq", "type", "at", "body"])
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_events"]>(rows, EVENT))
        .select(["workflow_id", "seq", "type", "at", "body"])
        .where(sql<boolean>`true`),
    )
    .execute();
}
