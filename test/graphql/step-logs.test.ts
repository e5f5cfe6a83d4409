/**
 * Step logs on Kafka: decider and worker in this process on a real broker (topics of their own),
 * the projector into PostgreSQL (a schema of its own), read back through the GraphQL API.
 */
import type { FastifyInstance } from "fastify";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { migrate } from "../../projections/migrate";
import { Projector } from "../../projections/projector";
import {
  stepLogsScenarios,
  stepLogsSteps,
  stepLogsWorkflows,
  type StepLogsHarness,
} from "../integration/step-logs-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestDatabase, type TestDatabase } from "../support/read-models";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";
import { redisLive } from "../support/live";

let db: TestDatabase;
let weft: TestWeft;
let projector: Projector;
let commands: CommandProducer;
let app: FastifyInstance;
let harness: StepLogsHarness;

beforeAll(async () => {
  db = await createTestDatabase("postgres");
  const config = isolatedConfig({ databaseUrl: db.databaseUrl, commandPartitions: 2 });
  const logger = testLogger(config);
  weft = await startTestWeft(config, { workflows: stepLogsWorkflows, steps: stepLogsSteps });
  await migrate(db.db);
  projector = new Projector({ config, kafka: kafkaFor(config), db: db.db, logger });
  await projector.start();
  commands = new CommandProducer(kafkaFor(config), config);
  await commands.connect();
  app = await createApiServer({
    live: redisLive(config, logger),
    config,
    db: db.db,
    logger,
    commands,
  });
  harness = {
    config,
    client: weft.client,
    transport: weft.transport,
    projector,
    async gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
      const res = await app.inject({
        method: "POST",
        url: "/graphql",
        payload: { query, variables },
      });
      const body = res.json<{ data?: T; errors?: unknown[] }>();
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data!;
    },
  };
});

afterAll(async () => {
  await app?.close();
  await commands?.close();
  await projector?.stop();
  await weft?.stop();
  await db?.drop();
});

describe("step logs on Kafka and PostgreSQL", () => {
  stepLogsScenarios(() => harness);
});
