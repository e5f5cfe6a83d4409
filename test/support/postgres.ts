/** PostgreSQL for the read-side tests: a schema of its own per test file, and table checksums. */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";
import { DEFAULTS } from "../../core/config";
import { READ_MODEL_TABLES } from "../../projections/read-model-tables";

const SERVER_URL = process.env.DATABASE_URL ?? DEFAULTS.databaseUrl;

export interface TestSchema {
  readonly schema: string;
  /** DATABASE_URL whose connections use only this schema (`search_path`). */
  readonly databaseUrl: string;
  drop(): Promise<void>;
}

/** Creates an empty schema; `databaseUrl` points every connection at it. */
export async function createTestSchema(): Promise<TestSchema> {
  const schema = `t_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  await onServer((pool) => pool.query(`CREATE SCHEMA ${schema}`));
  const url = new URL(SERVER_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return {
    schema,
    databaseUrl: url.toString(),
    async drop() {
      await onServer((pool) => pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  };
}

async function onServer<T>(fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new Pool({ connectionString: SERVER_URL, max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export interface TableChecksum {
  rows: number;
  md5: string;
}

/** Row count and md5 of every read-model table's rows in primary-key order. */
export async function readModelChecksums(pool: Pool): Promise<Record<string, TableChecksum>> {
  const out: Record<string, TableChecksum> = {};
  for (const table of READ_MODEL_TABLES) {
    const { rows } = await pool.query<{ rows: number; md5: string }>(
      `SELECT count(*)::int AS rows,
              md5(coalesce(string_agg(t::text, E'\\n' ORDER BY ${table.key.join(", ")}), '')) AS md5
         FROM ${table.name} AS t`,
    );
    out[table.name] = rows[0]!;
  }
  return out;
}

export async function countEvents(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM weft_events");
  return rows[0]!.n;
}
