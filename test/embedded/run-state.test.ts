/**
 * Run state in embedded mode: every role in this process on the embedded log, the read models
 * in a fresh SQLite file, the state read live through the API's WebSocket subscription.
 */
import { join } from "node:path";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import {
  runStateScenarios,
  runStateWorkflows,
  untilRegistered,
  type RunStateHarness,
} from "../integration/run-state-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

const { dir, cleanup } = tempDir();
let weft: EmbeddedWeft | undefined;
let client: WeftClient | undefined;
let harness: RunStateHarness;

beforeAll(async () => {
  const databaseUrl = `sqlite:${join(dir, "read-models.db")}`;
  const config = isolatedConfig({ databaseUrl, redisUrl: "redis://127.0.0.1:1" });
  const logger = testLogger(config);
  weft = await startEmbedded({
    dir: join(dir, "log"),
    workflows: runStateWorkflows,
    api: { port: 0 },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  client = await weft.connectClient();
  harness = { client, address: weft.api!.address };
  await untilRegistered(harness.address);
});

afterAll(async () => {
  await client?.close();
  await weft?.stop();
  cleanup();
});

describe("run state on the embedded log and SQLite", () => {
  runStateScenarios(() => harness);
});
