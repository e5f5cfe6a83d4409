/**
 * The read models for tests, on either dialect: a fresh PostgreSQL schema or a fresh SQLite
 * file per call, and checksums of every read-model table that compare within a dialect.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import type { DialectName } from "../../projections/dialect";
import { openReadModelDb, type ReadModelDb } from "../../projections/read-model-db";
import { READ_MODEL_TABLES } from "../../projections/read-model-tables";
import { createTestSchema } from "./postgres";

/** The dialects read-model tests run on; WEFT_TEST_DIALECTS=postgres (or sqlite) picks one. */
export const TEST_DIALECTS: readonly DialectName[] = (
  process.env.WEFT_TEST_DIALECTS ?? "postgres,sqlite"
)
  .split(",")
  .filter((d): d is DialectName => d === "postgres" || d === "sqlite");

export interface TestDatabase {
  readonly dialect: DialectName;
  /** DATABASE_URL of this database: a schema of its own, or a file of its own. */
  readonly databaseUrl: string;
  /** Open on it (not migrated); closed by drop(). */
  readonly db: ReadModelDb;
  /** Another handle on the same database (a second process would open its own). */
  open(): ReadModelDb;
  drop(): Promise<void>;
}

/** A fresh, empty database of the dialect. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const logger = createLogger("warn");
  let databaseUrl: string;
  let remove: () => Promise<void>;
  if (dialect === "postgres") {
    const schema = await createTestSchema();
    databaseUrl = schema.databaseUrl;
    remove = () => schema.drop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), "weft-test-"));
    databaseUrl = `sqlite:${join(dir, `read-models-${randomBytes(3).toString("hex")}.db`)}`;
    remove = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
  }
  const open = () => openReadModelDb(loadConfig({ databaseUrl }), logger, { max: 10 });
  const db = open();
  return {
    dialect,
    databaseUrl,
    db,
    open,
    async drop() {
      await db.close();
      await remove();
    },
  };
}

export interface TableChecksum {
  rows: number;
  md5: string;
}

/**
 * Row count and md5 of every read-model table's rows in primary-key order, as read back (times
 * as ISO text, JSON parsed): equal checksums are equal tables within one dialect.
 */
export async function readModelChecksums(db: ReadModelDb): Promise<Record<string, TableChecksum>> {
  const out: Record<string, TableChecksum> = {};
  for (const table of READ_MODEL_TABLES) {
    const order = table.key.map((k) => `${k}`).join(", ");
    const { rows } = await db.query(`SELECT * FROM ${table.name} ORDER BY ${order}`);
    const md5 = createHash("md5");
    for (const row of rows) md5.update(`${JSON.stringify(row)}\n`);
    out[table.name] = { rows: rows.length, md5: md5.digest("hex") };
  }
  return out;
}

export async function countEvents(db: ReadModelDb): Promise<number> {
  const row = await db.db
    .selectFrom("weft_events")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
