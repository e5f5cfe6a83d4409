import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { TimerPatch, TimerRow } from "../rows";

const TIMER = {
  workflow_id: "text",
  kind: "text",
  seq: "integer",
  attempt: "integer",
  due_at: "timestamptz",
  fired_at: "timestamptz",
  status: "text",
} as const;
const COLUMNS = Object.keys(TIMER) as (keyof typeof TIMER)[];

/**
 * Timers started in the batch. A step timeout starts again when a second worker reports the
 * same attempt started, so an existing row is replaced.
 */
export async function upsertTimers(db: ReadModelDb, rows: readonly TimerRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.db
    .insertInto("weft_timers")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(db.dialect.recordset<ReadModelTables["weft_timers"]>(rows, TIMER))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .onConflict((oc) =>
      oc.columns(["workflow_id", "kind", "seq", "attempt"]).doUpdateSet((eb) => ({
        due_at: eb.ref("excluded.due_at"),
        fired_at: eb.ref("excluded.fired_at"),
        status: eb.ref("excluded.status"),
      })),
    )
    .execute();
}

/** Timers started in an earlier batch that fired or were cancelled. */
export async function updateTimers(db: ReadModelDb, rows: readonly TimerPatch[]): Promise<void> {
  if (rows.length === 0) return;
  const { due_at: _due, ...patch } = TIMER;
  await db.db
    .updateTable("weft_timers as t")
    .from(db.dialect.recordset<ReadModelTables["weft_timers"]>(rows, patch))
    .set((eb) => ({ fired_at: eb.ref("v.fired_at"), status: eb.ref("v.status") }))
    .whereRef("t.workflow_id", "=", "v.workflow_id")
    .whereRef("t.kind", "=", "v.kind")
    .whereRef("t.seq", "=", "v.seq")
    .whereRef("t.attempt", "=", "v.attempt")
    .execute();
}
