import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Pool } from "pg";
import { WaitTimeoutError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { DialectName } from "./dialect";
import type { MigrationLock } from "./migration-lock";
import { asReadModelDb, type ReadModelDb } from "./read-model-db";
import { MigrationChangedError, SchemaOutdatedError, SchemaTooNewError } from "./schema-errors";

/**
 * One numbered file of migrations/ (PostgreSQL) or migrations/sqlite/ (SQLite):
 * `0001_read_models.sql` is version 1, name `read_models`. Each dialect has its own files,
 * numbered alike: version N is the same tables and columns on both (a test checks it).
 */
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
  /** The migrations to apply; default every file of the dialect's folder (`migrationsDir`). */
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

/**
 * migrations/ beside the sources (compiled code lives in dist/projections); SQLite's are in
 * migrations/sqlite/.
 */
export function migrationsDir(dialect: DialectName = "postgres"): string {
  const root = __dirname.includes(join("dist", "projections"))
    ? join(__dirname, "..", "..", "migrations")
    : join(__dirname, "..", "migrations");
  return dialect === "sqlite" ? join(root, "sqlite") : root;
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
export async function migrate(
  target: Pool | ReadModelDb,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const db = asReadModelDb(target);
  const { lock: outer } = options;
  if (!outer) return migrateLocked(db, options);
  return outer.hold(() => migrateLocked(db, options), options.lockTimeoutMs ?? 60_000);
}

/**
 * On SQLite the advisory lock is not needed: each migration's transaction is `BEGIN IMMEDIATE`
 * (the database's one write lock), and the applied versions are read again inside it.
 */
async function migrateLocked(target: ReadModelDb, options: MigrateOptions): Promise<MigrateResult> {
  const migrations = options.migrations ?? loadMigrations(migrationsDir(target.dialect.name));
  const log = options.logger?.child({ component: "migrate" });
  const sqlite = target.dialect.name === "sqlite";
  return target.withConnection(async ({ db, run }) => {
    if (!sqlite) await lock(db, options.lockTimeoutMs ?? 60_000);
    try {
      await run(sqlite ? SQLITE_MIGRATIONS_TABLE : POSTGRES_MIGRATIONS_TABLE);
      const applied = await appliedMigrations(db);
      verify(applied, migrations);
      const done = new Set(applied.map((a) => a.version));
      const pending = migrations.filter((m) => !done.has(m.version));
      const appliedNow: Migration[] = [];
      for (const migration of pending) {
        const started = Date.now();
        await run(sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
        try {
          // Another process on the same SQLite file may have applied it since.
          if (
            sqlite &&
            (await appliedMigrations(db)).some((a) => a.version === migration.version)
          ) {
            await run("ROLLBACK");
            continue;
          }
          await run(migration.sql);
          await db.db
            .insertInto("weft_schema_migrations")
            .values({
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
            })
            .execute();
          await run("COMMIT");
        } catch (err) {
          await run("ROLLBACK").catch(() => undefined);
          throw new Error(`migration ${migration.file} failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        appliedNow.push(migration);
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
      return { version, applied: appliedNow };
    } finally {
      if (!sqlite) await unlock(db);
    }
  });
}

const POSTGRES_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

const SQLITE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  version    integer PRIMARY KEY,
  name       text    NOT NULL,
  checksum   text    NOT NULL,
  applied_at integer NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT`;

/**
 * Checks that the database is exactly at the version this Weft knows, without changing it.
 * Returns the version; throws SchemaOutdatedError, SchemaTooNewError or MigrationChangedError.
 */
export async function checkSchema(
  target: Pool | ReadModelDb,
  migrations?: readonly Migration[],
): Promise<number> {
  const db = asReadModelDb(target);
  migrations ??= loadMigrations(migrationsDir(db.dialect.name));
  const exists = await db.dialect.tableExists(TABLE).execute(db.db);
  const applied = exists.rows[0]?.present ? await appliedMigrations(db) : [];
  verify(applied, migrations);
  const known = migrations.length;
  const done = new Set(applied.map((a) => a.version));
  const missing = migrations.find((m) => !done.has(m.version));
  if (missing) throw new SchemaOutdatedError(Math.max(0, ...done), known);
  return known;
}

async function appliedMigrations(db: ReadModelDb): Promise<AppliedRow[]> {
  return db.db
    .selectFrom("weft_schema_migrations")
    .select(["version", "name", "checksum"])
    .orderBy("version")
    .execute();
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

async function lock(client: ReadModelDb, timeoutMs: number): Promise<void> {
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

async function unlock(client: ReadModelDb): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`);
}
