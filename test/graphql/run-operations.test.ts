/**
 * Run operations through the API (run-operations-api-scenario.ts), on Kafka and PostgreSQL,
 * and on the embedded log and SQLite.
 */
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded } from "../../sdk/embedded";
import { WeftClient } from "../../sdk/client";
import { startRuntime } from "../../sdk/runtime";
import { tempDir } from "../embedded/helpers";
import { orderSteps, orderWorkflows } from "../fixtures/orders-reset";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import {
  ADMIN,
  READER,
  runOperationsApiScenario,
} from "../integration/run-operations-api-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

const workflows = [...orderWorkflows, ...transferWorkflows];
const steps = [...orderSteps, ...transferSteps];
const tokens = { admin: [ADMIN], read: [READER] };

describe("on Kafka and PostgreSQL", () => {
  let db: TestSchema;
  let config: WeftConfig | undefined;
  beforeAll(async () => {
    db = await createTestSchema();
  });
  afterAll(async () => {
    await db?.drop();
  });

  runOperationsApiScenario("kafka", async () => {
    config ??= isolatedConfig({ databaseUrl: db.databaseUrl });
    const logger = testLogger(config);
    const runtime = await startRuntime({
      config,
      logger,
      roles: ["decider", "worker", "projector", "api"],
      workflows,
      steps,
      api: { port: 0, tokens },
    });
    const client = await WeftClient.connect({ config, logger });
    return {
      client,
      address: runtime.api!.address,
      async stop() {
        await client.close();
        await runtime.stop();
      },
    };
  });
});

describe("on the embedded log and SQLite", () => {
  const { dir, cleanup } = tempDir();
  afterAll(() => cleanup());
  const config = isolatedConfig({
    databaseUrl: `sqlite:${join(dir, "read-models.db")}`,
    redisUrl: "redis://127.0.0.1:1",
  });

  runOperationsApiScenario("embedded", async () => {
    const logger = testLogger(config);
    const weft = await startEmbedded({
      dir: join(dir, "log"),
      workflows,
      steps,
      api: { port: 0, tokens },
      database: (options) => openReadModelDb(config, logger, options),
      sync: "never",
      config,
      logger,
    });
    const client = await weft.connectClient();
    return {
      client,
      address: weft.api!.address,
      async stop() {
        await client.close();
        await weft.stop();
      },
    };
  });
});
