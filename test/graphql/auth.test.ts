/**
 * Bearer tokens on a real HTTP server: every case of who may query, subscribe and mutate.
 * Mutations reach a real Kafka broker; queries a real PostgreSQL; subscriptions a real WebSocket.
 */
import type { FastifyInstance } from "fastify";
import type { Pool } from "pg";
import type { WeftConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import { ApiAuth, tokensFromEnv } from "../../graphql/auth";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { createPool } from "../../projections/database";
import { migrate } from "../../projections/migrate";
import { ReadModelDb } from "../../projections/read-model-db";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql, subscribe } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { kafkaFor } from "../support/weft";
import { ensureTopics, withAdmin } from "../../transport/topics";
import { redisLive } from "../support/live";

const ADMIN = "admin-token-0123456789abcdef";
const READER = "read-token-0123456789abcdef";

let db: TestSchema;
let config: WeftConfig;
let pool: Pool;
let commands: CommandProducer;
let app: FastifyInstance;
let address: string;

beforeAll(async () => {
  db = await createTestSchema();
  config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  pool = createPool(config, logger);
  await migrate(pool);
  // The API starts only registered types: as if a decider had registered "anything".
  await pool.query(
    `INSERT INTO weft_definitions (kind, name, hash, first_seen, last_seen)
     VALUES ('workflow', 'anything', 'h', now(), now())`,
  );
  await withAdmin(kafkaFor(config), (admin) => ensureTopics(admin, config));
  commands = new CommandProducer(kafkaFor(config), config);
  await commands.connect();
  app = await createApiServer({
    live: redisLive(config, logger),
    config,
    db: ReadModelDb.postgres(pool),
    logger,
    commands,
    auth: new ApiAuth({ admin: [ADMIN], read: [READER] }),
  });
  address = await app.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  await app?.close();
  await commands?.close();
  await pool?.end();
  await db?.drop();
});

const QUERY = `{ workflows(first: 1) { nodes { id } } }`;
const MUTATION = `mutation { startWorkflow(type: "anything", input: {}) { workflowId } }`;
const SUBSCRIPTION = `subscription { stats { pendingTimers } }`;

const codes = (res: { errors?: { extensions?: { code?: string } }[] }) =>
  (res.errors ?? []).map((e) => e.extensions?.code);

describe("without a token", () => {
  it("a query is refused with UNAUTHENTICATED", async () => {
    expect(codes(await httpGql(address, QUERY))).toEqual(["UNAUTHENTICATED"]);
  });
  it("a mutation is refused with UNAUTHENTICATED and produces nothing", async () => {
    const res = await httpGql(address, MUTATION);
    expect(codes(res)).toEqual(["UNAUTHENTICATED"]);
    expect(res.data ?? null).toBeNull();
  });
  it("a WebSocket is closed with 4401 at its connection_init", async () => {
    const sub = await subscribe(address, SUBSCRIPTION);
    try {
      await waitFor("the socket to close", () => sub.errors.length > 0, 5000);
      expect((sub.errors[0] as { code?: number }).code).toBe(4401);
      expect(sub.values).toEqual([]);
    } finally {
      await sub.close();
    }
  });
  it("health stays open; metrics need a token", async () => {
    expect((await fetch(`${address}/healthz`)).status).toBe(200);
    expect((await fetch(`${address}/metrics`)).status).toBe(401);
    const read = await fetch(`${address}/metrics`, {
      headers: { authorization: `Bearer ${READER}` },
    });
    expect(read.status).toBe(200);
  });
});

it("an unknown token is UNAUTHENTICATED, a malformed header too", async () => {
  expect(codes(await httpGql(address, QUERY, {}, "not-a-known-token-at-all"))).toEqual([
    "UNAUTHENTICATED",
  ]);
  const res = await fetch(`${address}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Basic ${ADMIN}` },
    body: JSON.stringify({ query: QUERY }),
  });
  expect(codes((await res.json()) as { errors?: [] })).toEqual(["UNAUTHENTICATED"]);
});

describe("a read-only token", () => {
  it("can query", async () => {
    const res = await httpGql(address, QUERY, {}, READER);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ workflows: { nodes: [] } });
  });
  it("can subscribe", async () => {
    const sub = await subscribe(address, SUBSCRIPTION, {}, READER);
    try {
      await sub.until("the first stats", (v) => v.length > 0);
      expect(sub.values[0]).toEqual({ stats: { pendingTimers: 0 } });
    } finally {
      await sub.close();
    }
  });
  it("cannot mutate: FORBIDDEN", async () => {
    const res = await httpGql(address, MUTATION, {}, READER);
    expect(codes(res)).toEqual(["FORBIDDEN"]);
    expect(res.data ?? null).toBeNull();
  });
});

describe("an admin token", () => {
  it("can mutate", async () => {
    const res = await httpGql<{ startWorkflow: { workflowId: string } }>(
      address,
      `mutation { startWorkflow(type: "anything", workflowId: "auth-admin-1") { workflowId } }`,
      {},
      ADMIN,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.startWorkflow.workflowId).toBe("auth-admin-1");
  });
  it("can query and subscribe", async () => {
    expect((await httpGql(address, QUERY, {}, ADMIN)).errors).toBeUndefined();
    const sub = await subscribe(address, SUBSCRIPTION, {}, ADMIN);
    try {
      await sub.until("the first stats", (v) => v.length > 0);
    } finally {
      await sub.close();
    }
  });
});

it("tokens come from WEFT_API_TOKENS / WEFT_API_READ_TOKENS and must be long enough", () => {
  expect(tokensFromEnv({ WEFT_API_TOKENS: `${ADMIN}, other-admin-token-0123456789` })).toEqual({
    admin: [ADMIN, "other-admin-token-0123456789"],
    read: [],
  });
  expect(() => tokensFromEnv({ WEFT_API_READ_TOKENS: "short" })).toThrow(ConfigError);
  expect(new ApiAuth(tokensFromEnv({})).enabled).toBe(false);
});
