/** Webhook triggers on Kafka, PostgreSQL and Redis: the api role serves /hooks/<name>. */
import { closeFixtures, steps, workflows } from "../fixtures/workflows";
import { webhookTriggers } from "../fixtures/triggers";
import { isolatedConfig } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { startTestWeft, type TestWeft } from "../support/weft";
import { webhookScenarios } from "./webhook-scenario";

let db: TestSchema;
let weft: TestWeft;

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  weft = await startTestWeft(config, {
    roles: ["decider", "worker", "api"],
    workflows,
    steps,
    triggers: webhookTriggers,
    api: { port: 0 },
  });
});

afterAll(async () => {
  await weft?.stop();
  await db?.drop();
  await closeFixtures();
});

webhookScenarios(() => ({ server: weft.runtime.api!.server, client: weft.client }));
