/**
 * /readyz against the real services: ready when Kafka, PostgreSQL, Redis answer and the schema
 * is current; 503 naming the check that failed otherwise, within the checks' time bound.
 */
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Pool } from "pg";
import type { WeftConfig } from "../../core/config";
import { Readiness } from "../../core/readiness";
import { ReadinessChecks } from "../../graphql/readiness-plugin";
import { createApiServer } from "../../graphql/server";
import { createPool } from "../../projections/database";
import { migrate } from "../../projections/migrate";
import { ReadModelDb } from "../../projections/read-model-db";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { kafkaFor } from "../support/weft";
import { redisLive } from "../support/live";

const schemas: TestSchema[] = [];
const pools: Pool[] = [];
const redises: Redis[] = [];
const apps: FastifyInstance[] = [];
const checks: ReadinessChecks[] = [];

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(checks.map((c) => c.close()));
  for (const r of redises) r.disconnect();
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(schemas.map((s) => s.drop()));
});

async function server(options: { redisUrl?: string; migrated: boolean; readiness?: Readiness }) {
  const schema = await createTestSchema();
  schemas.push(schema);
  const config: WeftConfig = isolatedConfig({ databaseUrl: schema.databaseUrl });
  const logger = testLogger(config);
  const pool = createPool(config, logger, { max: 2 });
  pools.push(pool);
  if (options.migrated) await migrate(pool);
  const redis = new Redis(options.redisUrl ?? config.redisUrl, {
    enableOfflineQueue: false,
    // The unreachable one must not go on reconnecting after the test.
    ...(options.redisUrl !== undefined ? { retryStrategy: () => null } : {}),
  });
  redis.on("error", () => undefined);
  redises.push(redis);
  if (options.redisUrl === undefined) await new Promise((r) => redis.once("ready", r));
  const app = await createApiServer({
    live: redisLive(config, logger),
    config,
    db: ReadModelDb.postgres(pool),
    logger,
    commands: {
      send: () => Promise.resolve(),
      partitionEnd: () => Promise.reject(new Error("no commands in readiness tests")),
      partitionFor: () => 0,
    },
    kafka: kafkaFor(config),
    redis,
    ...(options.readiness ? { readiness: given(pool, config, redis, options.readiness) } : {}),
  });
  apps.push(app);
  return app;
}

/** Checks of a process with roles; the server does not close what it is given. */
function given(pool: Pool, config: WeftConfig, redis: Redis, readiness: Readiness) {
  const made = new ReadinessChecks({
    db: ReadModelDb.postgres(pool),
    kafka: kafkaFor(config),
    redis,
    readiness,
  });
  checks.push(made);
  return made;
}

it("is ready when Kafka, PostgreSQL and Redis answer and the schema is current", async () => {
  const app = await server({ migrated: true });
  const res = await app.inject({ method: "GET", url: "/readyz" });
  expect(res.statusCode).toBe(200);
  const body = res.json<{ ready: boolean; checks: Record<string, { ok: boolean }> }>();
  expect(body.ready).toBe(true);
  expect(Object.keys(body.checks).sort()).toEqual(["kafka", "migrations", "postgres", "redis"]);
  expect(Object.values(body.checks).every((c) => c.ok)).toBe(true);
});

it("answers 503 naming Redis when Redis is unreachable, without hanging", async () => {
  const app = await server({ migrated: true, redisUrl: "redis://127.0.0.1:1" });
  const started = Date.now();
  const res = await app.inject({ method: "GET", url: "/readyz" });
  expect(Date.now() - started).toBeLessThan(5000);
  expect(res.statusCode).toBe(503);
  const body = res.json<{ ready: boolean; failed: string[]; checks: Record<string, unknown> }>();
  expect(body).toMatchObject({
    ready: false,
    failed: ["redis"],
    checks: {
      redis: { ok: false, error: expect.any(String) },
      kafka: { ok: true },
      postgres: { ok: true },
      migrations: { ok: true },
    },
  });
});

it("answers 503 naming the migrations on a schema that was not migrated", async () => {
  const app = await server({ migrated: false });
  const res = await app.inject({ method: "GET", url: "/readyz" });
  expect(res.statusCode).toBe(503);
  expect(res.json()).toMatchObject({
    ready: false,
    failed: ["migrations"],
    checks: { migrations: { ok: false, error: expect.stringMatching(/run `weft migrate`/) } },
  });
});

it("answers 503 naming the dependency a role of the process waits for, with its reason", async () => {
  const readiness = new Readiness();
  const app = await server({ migrated: true, readiness });
  const wait = Symbol("wait");
  readiness.wait(wait, {
    role: "worker",
    dependency: "kafka",
    action: "connect the command producer",
    since: Date.now(),
    failures: 2,
    error: "Connection error: connect ECONNREFUSED",
  });
  const res = await app.inject({ method: "GET", url: "/readyz" });
  expect(res.statusCode).toBe(503);
  expect(res.json()).toMatchObject({
    ready: false,
    failed: ["kafka"],
    checks: {
      kafka: {
        ok: false,
        error:
          "worker waits for kafka to connect the command producer (2 failures: Connection error: connect ECONNREFUSED)",
      },
      postgres: { ok: true },
      redis: { ok: true },
    },
    waiting: [{ role: "worker", dependency: "kafka", failures: 2 }],
  });
  readiness.clear(wait);
  expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
});
