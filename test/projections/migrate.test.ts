/**
 * The migration runner against a real PostgreSQL, in a schema of this file's own: order,
 * idempotence, refusing a newer or edited schema, and concurrent starts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Pool } from "pg";
import { DEFAULTS } from "../../core/config";
import { WaitTimeoutError, WeftError } from "../../core/errors";
import { Projector } from "../../projections/projector";
import {
  checkSchema,
  loadMigrations,
  migrate,
  migrationsDir,
  type Migration,
} from "../../projections/migrate";
import { migrationLockKey, RedisMigrationLock } from "../../adapters/redis/migration-lock";
import {
  MigrationChangedError,
  SchemaOutdatedError,
  SchemaTooNewError,
} from "../../projections/schema-errors";
import { ReadModelDb } from "../../projections/read-model-db";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { kafkaFor } from "../support/weft";

const schemas: TestSchema[] = [];
const pools: Pool[] = [];

async function freshPool(): Promise<{ pool: Pool; schema: TestSchema }> {
  const schema = await createTestSchema();
  schemas.push(schema);
  const pool = new Pool({ connectionString: schema.databaseUrl, max: 2 });
  pools.push(pool);
  return { pool, schema };
}

function migrationsIn(files: Record<string, string>): Migration[] {
  const dir = mkdtempSync(join(tmpdir(), "weft-migrations-"));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return loadMigrations(dir);
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(schemas.map((s) => s.drop()));
});

it("finds the shipped migrations in migrations/, numbered from 1", () => {
  const migrations = loadMigrations();
  expect(migrationsDir()).toMatch(/migrations$/);
  expect(migrations[0]).toMatchObject({
    version: 1,
    name: "read_models",
    file: "0001_read_models.sql",
  });
  expect(migrations[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
});

it("refuses misnamed or gapped migration files", () => {
  expect(() => migrationsIn({ "0001_a.sql": "", "0003_c.sql": "" })).toThrow(/without gaps/);
  expect(() => migrationsIn({ "1_a.sql": "" })).toThrow(/NNNN_lower_snake_name/);
});

it("applies migrations in order, records them, and a second migrate is a no-op", async () => {
  const { pool } = await freshPool();
  await expect(checkSchema(pool)).rejects.toBeInstanceOf(SchemaOutdatedError);
  const migrations = migrationsIn({
    "0001_first.sql": "CREATE TABLE m_first (id integer PRIMARY KEY);",
    // Fails unless 0001 ran before it.
    "0002_second.sql": "ALTER TABLE m_first ADD COLUMN label text NOT NULL DEFAULT 'x';",
    "0003_third.sql": "INSERT INTO m_first (id) VALUES (3);",
  });
  const first = await migrate(pool, { migrations });
  expect(first.version).toBe(3);
  expect(first.applied.map((m) => m.file)).toEqual([
    "0001_first.sql",
    "0002_second.sql",
    "0003_third.sql",
  ]);
  const { rows } = await pool.query<{ version: number; name: string; checksum: string }>(
    "SELECT version, name, checksum FROM weft_schema_migrations ORDER BY version",
  );
  expect(rows).toEqual(
    migrations.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })),
  );

  const second = await migrate(pool, { migrations });
  expect(second).toEqual({ version: 3, applied: [] });
  expect((await pool.query("SELECT * FROM m_first")).rows).toEqual([{ id: 3, label: "x" }]);
  await expect(checkSchema(pool, migrations)).resolves.toBe(3);
});

it("applies the shipped read-model migrations, in order", async () => {
  const { pool } = await freshPool();
  const result = await migrate(pool);
  const shipped = loadMigrations().map((m) => m.file);
  expect(shipped[0]).toBe("0001_read_models.sql");
  expect(result.applied.map((m) => m.file)).toEqual(shipped);
  const { rows } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  expect(rows.map((r) => r.table_name)).toEqual([
    "weft_definitions",
    "weft_events",
    "weft_processes",
    "weft_projected_log",
    "weft_projector_offsets",
    "weft_runs",
    "weft_schema_migrations",
    "weft_signals",
    "weft_step_attempts",
    "weft_step_logs",
    "weft_timers",
  ]);
});

it("refuses a database migrated by a newer Weft, saying what to do", async () => {
  const { pool } = await freshPool();
  await migrate(pool);
  const known = loadMigrations().length;
  const future = known + 1;
  await pool.query(
    "INSERT INTO weft_schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')",
    [future],
  );
  const error = await migrate(pool).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SchemaTooNewError);
  expect(error).toBeInstanceOf(WeftError);
  expect((error as WeftError).code).toBe("SCHEMA_MISMATCH");
  expect((error as Error).message).toBe(
    `database schema is at version ${future}, this Weft knows up to ${known}: upgrade Weft`,
  );
  await expect(checkSchema(pool)).rejects.toBeInstanceOf(SchemaTooNewError);
});

it("detects a migration edited after it was applied", async () => {
  const { pool } = await freshPool();
  const original = migrationsIn({ "0001_first.sql": "CREATE TABLE m_edit (id integer);" });
  await migrate(pool, { migrations: original });
  const edited = migrationsIn({ "0001_first.sql": "CREATE TABLE m_edit (id bigint);" });
  const error = await migrate(pool, { migrations: edited }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(MigrationChangedError);
  expect((error as Error).message).toMatch(
    /^migration 0001_first\.sql was edited after the database applied it .*put the change in a new migration$/,
  );
  // The pool's connection went back usable: the lock was released.
  await expect(migrate(pool, { migrations: original })).resolves.toEqual({
    version: 1,
    applied: [],
  });
});

it("lets three concurrent migrate() calls apply each migration exactly once", async () => {
  const { schema } = await freshPool();
  const migrations = migrationsIn({
    "0001_first.sql": "CREATE TABLE m_race (id integer PRIMARY KEY);",
    // Slow, so the others arrive while it runs; a second CREATE TABLE would fail.
    "0002_slow.sql": "SELECT pg_sleep(0.5); CREATE TABLE m_race_2 (id integer);",
    "0003_count.sql": "INSERT INTO m_race (id) VALUES (1);",
  });
  const clients = Array.from({ length: 3 }, () => {
    const pool = new Pool({ connectionString: schema.databaseUrl, max: 1 });
    pools.push(pool);
    return pool;
  });
  const results = await Promise.all(clients.map((pool) => migrate(pool, { migrations })));
  expect(results.map((r) => r.version)).toEqual([3, 3, 3]);
  const applied = results.flatMap((r) => r.applied.map((m) => m.version)).sort();
  expect(applied).toEqual([1, 2, 3]);
  const check = clients[0]!;
  expect((await check.query("SELECT count(*)::int AS n FROM m_race")).rows[0]).toEqual({ n: 1 });
  expect(
    (await check.query("SELECT count(*)::int AS n FROM weft_schema_migrations")).rows[0],
  ).toEqual({ n: 3 });
});

it("keeps a projector from starting on a database that was not migrated", async () => {
  const { pool, schema } = await freshPool();
  const config = isolatedConfig({ databaseUrl: schema.databaseUrl });
  const projector = new Projector({
    config,
    kafka: kafkaFor(config),
    db: ReadModelDb.postgres(pool),
    logger: testLogger(config),
  });
  await expect(projector.start()).rejects.toThrow(
    `database schema is at version 0, this Weft needs version ${loadMigrations().length}: run \`weft migrate\``,
  );
});

describe("the Redis migration lock", () => {
  const redises: Redis[] = [];
  const redisUrl = process.env.REDIS_URL ?? DEFAULTS.redisUrl;
  const connect = () => {
    const redis = new Redis(redisUrl);
    redises.push(redis);
    return redis;
  };

  afterAll(() => {
    for (const r of redises) r.disconnect();
  });

  it("lets concurrent migrate() calls of several processes apply each migration once", async () => {
    const { schema } = await freshPool();
    const config = isolatedConfig({ databaseUrl: schema.databaseUrl });
    const migrations = migrationsIn({
      "0001_first.sql": "CREATE TABLE m_redis (id integer PRIMARY KEY);",
      "0002_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE m_redis_2 (id integer);",
      "0003_count.sql": "INSERT INTO m_redis (id) VALUES (1);",
    });
    // Four "processes": a pool and a Redis client each, on the same schema and prefix.
    const processes = Array.from({ length: 4 }, () => {
      const pool = new Pool({ connectionString: schema.databaseUrl, max: 1 });
      pools.push(pool);
      return { pool, lock: new RedisMigrationLock(connect(), config) };
    });
    const results = await Promise.all(
      processes.map(({ pool, lock }) => migrate(pool, { migrations, lock })),
    );
    expect(results.map((r) => r.version)).toEqual([3, 3, 3, 3]);
    expect(results.flatMap((r) => r.applied.map((m) => m.version)).sort()).toEqual([1, 2, 3]);
    const check = processes[0]!.pool;
    expect((await check.query("SELECT count(*)::int AS n FROM m_redis")).rows[0]).toEqual({ n: 1 });
    // Released: nothing is left behind in Redis.
    expect(await connect().exists(migrationLockKey(config))).toBe(0);
  });

  it("waits for a process holding the lock, and gives up after the lock timeout", async () => {
    const { pool, schema } = await freshPool();
    const config = isolatedConfig({ databaseUrl: schema.databaseUrl });
    const holder = new RedisMigrationLock(connect(), config);
    let release!: () => void;
    let held!: Promise<void>;
    await new Promise<void>((acquired) => {
      held = holder.hold(() => {
        acquired();
        return new Promise<void>((resolve) => (release = resolve));
      }, 1000);
    });
    const migrations = migrationsIn({ "0001_first.sql": "CREATE TABLE m_wait (id integer);" });
    const lock = new RedisMigrationLock(connect(), config);
    const error = await migrate(pool, { migrations, lock, lockTimeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(/another process is migrating/);
    // Once released, the next migrate takes it and applies.
    const after = migrate(pool, { migrations, lock, lockTimeoutMs: 5000 });
    release();
    await held;
    await expect(after).resolves.toMatchObject({ version: 1 });
  });
});
