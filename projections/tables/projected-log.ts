import type { ReadModelDb } from "../read-model-db";

/** The ID of the log the read models were built from, if one was recorded. */
export async function readProjectedLog(db: ReadModelDb): Promise<string | undefined> {
  const row = await db.db.selectFrom("weft_projected_log").select("log_id").executeTakeFirst();
  return row?.log_id;
}

/** Records the log the read models are built from (the table's one row). */
export async function recordProjectedLog(db: ReadModelDb, logId: string): Promise<void> {
  await db.db.deleteFrom("weft_projected_log").execute();
  await db.db.insertInto("weft_projected_log").values({ log_id: logId }).execute();
}
