/**
 * Run state on Kafka: decider, projector and API in one runtime (the workflows run no step) on
 * a real broker (topics of their own), PostgreSQL (a schema of its own) and Redis; the state
 * read live through the API's WebSocket subscription.
 */
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import {
  runStateScenarios,
  runStateWorkflows,
  untilRegistered,
  type RunStateHarness,
} from "../integration/run-state-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

let db: TestSchema;
let runtime: Runtime;
let client: WeftClient;
let harness: RunStateHarness;

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  runtime = await startRuntime({
    config,
    logger,
    roles: ["decider", "projector", "api"],
    workflows: runStateWorkflows,
    api: { port: 0 },
  });
  client = await WeftClient.connect({ config, logger });
  harness = { client, address: runtime.api!.address };
  await untilRegistered(harness.address);
});

afterAll(async () => {
  await client?.close();
  await runtime?.stop();
  await db?.drop();
});

describe("run state on Kafka and PostgreSQL", () => {
  runStateScenarios(() => harness);
});
