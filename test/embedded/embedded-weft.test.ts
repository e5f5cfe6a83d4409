/**
 * startEmbedded with every role: decider, worker, projector and API in this process on the
 * embedded log, with the read models in PostgreSQL (a schema of its own) and no Redis at all
 * (REDIS_URL points where nothing listens). A run started over GraphQL completes; its events
 * reach a subscriber through the in-process live emitter; /readyz checks no Redis.
 */
import { ConfigError } from "../../core/errors";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql, subscribe } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { tempDir } from "./helpers";

const { dir, cleanup } = tempDir();
let db: TestSchema;
let weft: EmbeddedWeft | undefined;

beforeAll(async () => {
  db = await createTestSchema();
});

afterAll(async () => {
  await weft?.stop();
  await db?.drop();
  cleanup();
});

it("runs every role with no Kafka and no Redis, and serves the run live", async () => {
  const config = isolatedConfig({ databaseUrl: db.databaseUrl, redisUrl: "redis://127.0.0.1:1" });
  const logger = testLogger(config);
  // No time bound on start-up here: a busy machine stretches it, and bench:startup shows it.
  weft = await startEmbedded({
    dir,
    workflows: [threeSteps],
    steps,
    api: { port: 0 },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  expect(weft.roles).toEqual(["decider", "worker", "projector", "api"]);
  const address = weft.api!.address;

  const ready = await fetch(`${address}/readyz`);
  const body = (await ready.json()) as { ready: boolean; checks: Record<string, unknown> };
  expect(ready.status).toBe(200);
  expect(Object.keys(body.checks).sort()).toEqual(["kafka", "migrations", "postgres", "projector"]);

  // The type is known once the projector has stored this process's registration.
  const workflowId = `embedded-${Date.now()}`;
  await waitFor("the type to be registered", async () => {
    const res = await httpGql<{ startWorkflow: { workflowId: string } }>(
      address,
      `mutation ($id: String) { startWorkflow(type: "threeSteps", workflowId: $id, input: { n: 1 }) { workflowId } }`,
      { id: workflowId },
    );
    return res.data?.startWorkflow.workflowId === workflowId;
  });
  const events = await subscribe<{ workflowEvents: { seq: number; type: string } }>(
    address,
    `subscription ($id: String!) { workflowEvents(workflowId: $id, afterSeq: 0) { seq type } }`,
    { id: workflowId },
  );
  try {
    await events.until("the run to complete", (values) =>
      values.some((v) => v.workflowEvents.type === "WorkflowCompleted"),
    );
    const seqs = events.values.map((v) => v.workflowEvents.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  } finally {
    await events.close();
  }
  const run = await httpGql<{ workflow: { status: string; result: unknown } }>(
    address,
    `query ($id: String!) { workflow(id: $id) { status result } }`,
    { id: workflowId },
  );
  expect(run.data?.workflow).toEqual({ status: "COMPLETED", result: { n: 4 } });

  // The client of the same process, on the same log.
  const client = await weft.connectClient();
  try {
    const { workflowId: second } = await client.start(threeSteps, { input: { n: 10 } });
    expect(await client.result(second, { timeoutMs: 30_000 })).toEqual({ n: 13 });
  } finally {
    await client.close();
  }
});

it("refuses to start with nothing to run", async () => {
  const other = tempDir();
  try {
    await expect(
      startEmbedded({ dir: other.dir, database: false, config: isolatedConfig() }),
    ).rejects.toBeInstanceOf(ConfigError);
  } finally {
    other.cleanup();
  }
});
