import { sql } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../read-model-db";
import type { DefinitionRow } from "../rows";

const DEFINITION = {
  kind: "text",
  name: "text",
  hash: "text",
  task_queue: "text",
  retry: "jsonb",
  timeout_ms: "bigint",
  first_seen: "timestamptz",
  last_seen: "timestamptz",
} as const;
const COLUMNS = Object.keys(DEFINITION) as (keyof typeof DEFINITION)[];

/**
 * Versions of workflow and step types registered in the batch. Seen before: first_seen and
 * last_seen only widen (LEAST / GREATEST), so the rows do not depend on the order of beats.
 */
export async function upsertDefinitions(
  db: ReadModelDb,
  rows: readonly DefinitionRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const { dialect } = db;
  await db.db
    .insertInto("weft_definitions")
    .columns(COLUMNS)
    .expression(
      db.db
        .selectFrom(dialect.recordset<ReadModelTables["weft_definitions"]>(rows, DEFINITION))
        .select(COLUMNS)
        .where(sql<boolean>`true`),
    )
    .onConflict((oc) =>
      oc.columns(["kind", "name", "hash"]).doUpdateSet((eb) => ({
        first_seen: dialect.least(
          eb.ref("weft_definitions.first_seen"),
          eb.ref("excluded.first_seen"),
        ),
        last_seen: dialect.greatest(
          eb.ref("weft_definitions.last_seen"),
          eb.ref("excluded.last_seen"),
        ),
      })),
    )
    .execute();
}
