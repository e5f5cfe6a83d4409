/**
 * Step logs in embedded mode: every role in this process on the embedded log, the read models in
 * a fresh SQLite file, read back through the API over HTTP.
 */
import { join } from "node:path";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import {
  stepLogsScenarios,
  stepLogsSteps,
  stepLogsWorkflows,
  type StepLogsHarness,
} from "../integration/step-logs-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { tempDir } from "./helpers";

const { dir, cleanup } = tempDir();
let weft: EmbeddedWeft | undefined;
let client: WeftClient | undefined;
let harness: StepLogsHarness;

beforeAll(async () => {
  const databaseUrl = `sqlite:${join(dir, "read-models.db")}`;
  const config = isolatedConfig({ databaseUrl, redisUrl: "redis://127.0.0.1:1" });
  const logger = testLogger(config);
  weft = await startEmbedded({
    dir: join(dir, "log"),
    workflows: stepLogsWorkflows,
    steps: stepLogsSteps,
    api: { port: 0 },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  client = await weft.connectClient();
  const address = weft.api!.address;
  harness = {
    config,
    client,
    transport: weft.backends.transport,
    projector: weft.projector!,
    async gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
      const body = await httpGql<T>(address, query, variables);
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data!;
    },
  };
});

afterAll(async () => {
  await client?.close();
  await weft?.stop();
  cleanup();
});

describe("step logs on the embedded log and SQLite", () => {
  stepLogsScenarios(() => harness);
});
