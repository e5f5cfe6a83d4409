/**
 * Embedded mode with the read models in SQLite: every role in this process on the embedded log,
 * a fresh SQLite file for the projector and the API, no Kafka, no Redis, no PostgreSQL. A run
 * started over GraphQL completes and reads back through the same queries as on PostgreSQL; the
 * file reopens with its rows. How fast it starts is `npm run bench:startup`'s figure, not an
 * assertion's: a bound on time here fails whenever the machine is busy.
 */
import { join } from "node:path";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { tempDir } from "./helpers";

const { dir, cleanup } = tempDir();
const databaseUrl = `sqlite:${join(dir, "read-models.db")}`;
let weft: EmbeddedWeft | undefined;

afterAll(async () => {
  await weft?.stop();
  cleanup();
});

async function start(): Promise<EmbeddedWeft> {
  const config = isolatedConfig({ databaseUrl, redisUrl: "redis://127.0.0.1:1" });
  const logger = testLogger(config);
  return startEmbedded({
    dir: join(dir, "log"),
    workflows: [threeSteps],
    steps,
    api: { port: 0 },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
}

const WORKFLOW = `query ($id: String!) {
  workflow(id: $id) { status result steps { stepName status durationMs } events { seq type } }
}`;

it("runs every role on a fresh SQLite file, and reopens it with its rows", async () => {
  weft = await start();
  expect(weft.roles).toEqual(["decider", "worker", "projector", "api"]);
  const address = weft.api!.address;
  const ready = await fetch(`${address}/readyz`);
  expect(ready.status).toBe(200);

  const workflowId = `sqlite-${Date.now()}`;
  await waitFor("the type to be registered", async () => {
    const res = await httpGql<{ startWorkflow: { workflowId: string } }>(
      address,
      `mutation ($id: String) { startWorkflow(type: "threeSteps", workflowId: $id, input: { n: 1 }) { workflowId } }`,
      { id: workflowId },
    );
    return res.data?.startWorkflow.workflowId === workflowId;
  });
  type Run = { workflow: { status: string; result: unknown; steps: unknown[]; events: unknown[] } };
  const done = await waitFor("the run to complete", async () => {
    const res = await httpGql<Run>(address, WORKFLOW, { id: workflowId });
    return res.data?.workflow?.status === "COMPLETED" ? res.data.workflow : undefined;
  });
  expect(done.result).toEqual({ n: 4 });
  expect(done.steps).toHaveLength(3);
  expect(done.events.length).toBeGreaterThan(10);
  await weft.stop();
  weft = undefined;

  weft = await start();
  const again = await httpGql<Run>(weft.api!.address, WORKFLOW, { id: workflowId });
  expect(again.data?.workflow).toEqual(done);
});
