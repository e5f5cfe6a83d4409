/**
 * Every role started while its broker is not there yet — a decider and a worker, a projector,
 * an API, each a child process — waits instead of exiting: /readyz names kafka, each role
 * outlives failed tries, and once the broker appears every role becomes ready and a run
 * started through the API completes and shows in the read models. The broker is a private one
 * (infra.sh in a folder and on ports of this test), started only after the roles failed.
 */
import type { WeftConfig } from "../../core/config";
import { isolatedConfig } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { PrivateBroker } from "../support/private-broker";
import { explainedBy, spawnRolesStarting, type RoleProcess } from "../support/processes";
import { runThroughApi, waitUntilReady, waitUntilWaitingFor } from "../support/readyz";
import { freePort } from "../support/tcp-proxy";

let broker: PrivateBroker;
let schema: TestSchema;
let config: WeftConfig;
const children: RoleProcess[] = [];

beforeAll(async () => {
  broker = await PrivateBroker.reserve();
  schema = await createTestSchema();
  config = isolatedConfig({
    kafkaBrokers: broker.address,
    databaseUrl: schema.databaseUrl,
    commandPartitions: 2,
    taskPartitions: 2,
  });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await broker?.destroy();
  await schema?.drop();
});

it("starts every role while the broker is down; each waits, then works once it is up", () =>
  explainedBy(children, async () => {
    const ports = { engine: await freePort(), projector: await freePort(), api: await freePort() };
    const at = (port: number) => `http://127.0.0.1:${port}`;
    const env = { DATABASE_URL: config.databaseUrl };
    children.push(
      await spawnRolesStarting(config, "decider,worker", {
        WEFT_METRICS_PORT: String(ports.engine),
      }),
      await spawnRolesStarting(config, "projector", {
        ...env,
        WEFT_METRICS_PORT: String(ports.projector),
      }),
      await spawnRolesStarting(config, "api", { ...env, PORT: String(ports.api) }),
    );

    // Every role waits for Kafka and has already failed to reach it at least once.
    await Promise.all([
      waitUntilWaitingFor(at(ports.engine), "kafka", ["decider", "worker"]),
      waitUntilWaitingFor(at(ports.projector), "kafka", ["projector"]),
      waitUntilWaitingFor(at(ports.api), "kafka", ["api"]),
    ]);
    const graphql = await fetch(`${at(ports.api)}/graphql`, { method: "POST" });
    expect(graphql.status).toBe(503);
    expect(await graphql.json()).toMatchObject({
      errors: [{ extensions: { code: "UNAVAILABLE" } }],
    });
    for (const child of children) expect(child.alive()).toBe(true);

    await broker.start();

    await Promise.all([
      waitUntilReady(at(ports.engine)),
      waitUntilReady(at(ports.projector)),
      waitUntilReady(at(ports.api)),
    ]);
    // A run through every role: API → decider → worker → decider → projector → API.
    expect(await runThroughApi(at(ports.api), "threeSteps", { n: 1 })).toEqual({ n: 4 });
    for (const child of children) expect(child.alive()).toBe(true);
  }));
