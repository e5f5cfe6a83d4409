import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Pool, PoolClient } from "pg";
import { WaitTimeoutError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { Queryable } from "./database";
import type { MigrationLock } from "./migration-lock";
import { MigrationChangedError, SchemaOutdatedError, SchemaTooNewError } from "./schema-errors";

/** One numbered file of migrations/: `0001_read_models.sql` is version 1, name `read_models`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  /** sha256 of the file with line endings normalised, so a checkout on Windows still matches. */
  readonly checksum: string;
}

export interface MigrateOptions {
  logger?: Logger;
  /** How long to wait for another process that is migrating; default 60 s. */
  lockTimeoutMs?: number;
  /** The migrations to apply; default every file of migrations/. */
  migrations?: readonly Migration[];
  /**
   * Taken before anything else, around the advisory lock: the Redis migration lock
   * (`RedisMigrationLock`) in the roles and `weft migrate`. Default none.
   */
  lock?: MigrationLock;
}

export interface MigrateResult {
  /** The schema version after migrating. */
  readonly version: number;
  /** What this call applied; empty when the database was already current. */
  readonly applied: readonly Migration[];
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const TABLE = "weft_schema_migrations";

/** migrations/ beside the sources; compiled code lives in dist/projections. */
export function migrationsDir(): string {
  return __dirname.includes(join("dist", "projections"))
    ? join(__dirname, "..", "..", "migrations")
    : join(__dirname, "..", "migrations");
}

/** Reads and checks the migration files: numbered 1, 2, 3… with no gap or repeat. */
export function loadMigrations(dir = migrationsDir()): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => {
      const match = FILE.exec(file);
      if (!match) {
        throw new Error(`migration file ${file} must be named NNNN_lower_snake_name.sql`);
      }
      const sql = readFileSync(join(dir, file), "utf8").replace(/\r\n/g, "\n");
      return {
        version: Number(match[1]),
        name: match[2]!,
        file,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migrations must be numbered from 0001 without gaps: ${m.file} is #${i + 1}`);
    }
  });
  return migrations;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Applies the pending migrations in order, each in its own transaction with its row in
 * `weft_schema_migrations`. Refuses a database migrated by a newer Weft (SchemaTooNewError)
 * and one whose applied migration was edited since (MigrationChangedError). Safe to call from
 * many processes at once: they queue on a lock and all but the first find nothing to do.
 *
 * Two locks: `options.lock` (the Redis migration lock of Weft's roles and `weft migrate`) is
 * taken first, so processes starting together wait there; inside it, always, a PostgreSQL
 * session advisory lock, which is what keeps migrations correct. The advisory lock lives in the
 * database it protects, is held exactly as long as the migrating connection, and is released by
 * the server if the process dies; a Redis lease expires on a clock instead, and a migration
 * outliving it (an index build on a big table, a paused process) would let a second migrator
 * in mid-way were the Redis lock the only one.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const { lock: outer } = options;
  if (!outer) return migrateLocked(pool, options);
  return outer.hold(() => migrateLocked(pool, options), options.lockTimeoutMs ?? 60_000);
}

async function migrateLocked(pool: Pool, options: MigrateOptions): Promise<MigrateResult> {
  const migrations = options.migrations ?? loadMigrations();
  const log = options.logger?.child({ component: "migrate" });
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await lock(client, options.lockTimeoutMs ?? 60_000);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${TABLE} (
           version    integer     PRIMARY KEY,
           name       text        NOT NULL,
           checksum   text        NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const applied = await appliedMigrations(client);
      verify(applied, migrations);
      const done = new Set(applied.map((a) => a.version));
      const pending = migrations.filter((m) => !done.has(m.version));
      for (const migration of pending) {
        const started = Date.now();
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query(`INSERT INTO ${TABLE} (version, name, checksum) VALUES ($1, $2, $3)`, [
            migration.version,
            migration.name,
            migration.checksum,
          ]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw new Error(`migration ${migration.file} failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        log?.info(
          { version: migration.version, migration: migration.file, ms: Date.now() - started },
          "migration applied",
        );
      }
      const version = Math.max(
        0,
        ...applied.map((a) => a.version),
        ...pending.map((m) => m.version),
      );
      return { version, applied: pending };
    } finally {
      await unlock(client);
    }
  } catch (err) {
    // A connection in an unknown state (a failed rollback or unlock) must not go back to the pool.
    if (!(err instanceof SchemaTooNewError || err instanceof MigrationChangedError)) {
      broken = err as Error;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Checks that the database is exactly at the version this Weft knows, without changing it.
 * Returns the version; throws SchemaOutdatedError, SchemaTooNewError or MigrationChangedError.
 */
export async function checkSchema(
  db: Queryable,
  migrations: readonly Migration[] = loadMigrations(),
): Promise<number> {
  const exists = await db.query<{ present: boolean }>(
    "SELECT to_regclass($1) IS NOT NULL AS present",
    [TABLE],
  );
  const applied = exists.rows[0]?.present ? await appliedMigrations(db) : [];
  verify(applied, migrations);
  const known = migrations.length;
  const done = new Set(applied.map((a) => a.version));
  const missing = migrations.find((m) => !done.has(m.version));
  if (missing) throw new SchemaOutdatedError(Math.max(0, ...done), known);
  return known;
}

async function appliedMigrations(db: Queryable): Promise<AppliedRow[]> {
  const { rows } = await db.query<AppliedRow>(
    `SELECT version, name, checksum FROM ${TABLE} ORDER BY version`,
  );
  return rows;
}

function verify(applied: readonly AppliedRow[], migrations: readonly Migration[]): void {
  const known = migrations.length;
  const newest = Math.max(0, ...applied.map((a) => a.version));
  if (newest > known) throw new SchemaTooNewError(newest, known);
  for (const row of applied) {
    const migration = migrations[row.version - 1];
    if (migration && migration.checksum !== row.checksum) {
      throw new MigrationChangedError(
        row.version,
        migration.file,
        row.checksum,
        migration.checksum,
      );
    }
  }
}

/** One key per schema, so databases that hold several Weft schemas migrate them independently. */
const LOCK_KEY = "hashtextextended('weft.migrate:' || coalesce(current_schema(), ''), 0)";

async function lock(client: PoolClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${LOCK_KEY}) AS locked`,
    );
    if (rows[0]?.locked) return;
    if (Date.now() > deadline) {
      throw new WaitTimeoutError("the migration lock (another process is migrating)", timeoutMs);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function unlock(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`);
}
