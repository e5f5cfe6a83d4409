/**
 * Roles started while Redis or PostgreSQL is unreachable wait instead of exiting, name the
 * missing dependency on /readyz, and do their job once it answers. "Unreachable" is a closed
 * TCP proxy in front of the shared server (connections refused, as to a stopped one); opening
 * the proxy brings it back. The roles under test are child processes; what else a run needs
 * runs in this process on the real services.
 */
import type { WeftConfig } from "../../core/config";
import { startRuntime, type Role, type Runtime } from "../../sdk/runtime";
import { steps, workflows } from "../fixtures/workflows";
import { isolatedConfig, testLogger } from "../support/env";
import { subscribe } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { explainedBy, spawnRolesStarting, type RoleProcess } from "../support/processes";
import { runThroughApi, waitUntilReady, waitUntilWaitingFor } from "../support/readyz";
import { freePort, TcpProxy } from "../support/tcp-proxy";

const children: RoleProcess[] = [];
const runtimes: Runtime[] = [];
const proxies: TcpProxy[] = [];
const schemas: TestSchema[] = [];

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  for (const runtime of runtimes) await runtime.stop();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(schemas.map((s) => s.drop()));
});

const at = (port: number) => `http://127.0.0.1:${port}`;

/** A config (topics and a schema of its own) and a closed proxy in front of one of its servers. */
async function setup(
  server: (config: WeftConfig) => string,
): Promise<{ config: WeftConfig; proxy: TcpProxy }> {
  const schema = await createTestSchema();
  schemas.push(schema);
  const config = isolatedConfig({
    databaseUrl: schema.databaseUrl,
    commandPartitions: 2,
    taskPartitions: 2,
  });
  const target = new URL(server(config));
  const proxy = await TcpProxy.to({ host: target.hostname, port: Number(target.port) });
  proxies.push(proxy);
  return { config, proxy };
}

/** Roles on the real services, in this process. */
async function inProcess(config: WeftConfig, roles: Role[]): Promise<void> {
  runtimes.push(
    await startRuntime({ config, logger: testLogger(config), workflows, steps, roles }),
  );
}

it("a worker and an API started while Redis is unreachable wait, then run steps and push live updates", () =>
  explainedBy(children, async () => {
    const { config, proxy } = await setup((c) => c.redisUrl);
    const redisUrl = proxy.rewrite(config.redisUrl);
    const ports = { worker: await freePort(), api: await freePort() };
    const env = { REDIS_URL: redisUrl, DATABASE_URL: config.databaseUrl };
    children.push(
      await spawnRolesStarting(config, "worker", {
        ...env,
        WEFT_METRICS_PORT: String(ports.worker),
      }),
      await spawnRolesStarting(config, "api", { ...env, PORT: String(ports.api) }),
    );
    // The decider and the projector (which migrates and publishes live updates) reach Redis.
    await inProcess(config, ["decider", "projector"]);

    await Promise.all([
      waitUntilWaitingFor(at(ports.worker), "redis", ["worker"]),
      waitUntilWaitingFor(at(ports.api), "redis", ["api"]),
    ]);
    for (const child of children) expect(child.alive()).toBe(true);

    await proxy.open();

    await Promise.all([waitUntilReady(at(ports.worker)), waitUntilReady(at(ports.api))]);
    // The live feed reached Redis through the proxy too: the subscription sees the run end.
    const updates = await subscribe<{ workflowUpdated: { id: string; status: string } }>(
      at(ports.api),
      `subscription { workflowUpdated { id status } }`,
    );
    try {
      expect(await runThroughApi(at(ports.api), "threeSteps", { n: 10 })).toEqual({ n: 13 });
      await updates.until("a live update of a completed run", (values) =>
        values.some((v) => v.workflowUpdated.status === "COMPLETED"),
      );
    } finally {
      await updates.close();
    }
    for (const child of children) expect(child.alive()).toBe(true);
  }));

it("a projector and an API started while PostgreSQL is unreachable wait, then project and serve the run", () =>
  explainedBy(children, async () => {
    const { config, proxy } = await setup((c) => c.databaseUrl);
    const databaseUrl = proxy.rewrite(config.databaseUrl);
    const ports = { projector: await freePort(), api: await freePort() };
    const env = { DATABASE_URL: databaseUrl };
    const started = children.length;
    children.push(
      await spawnRolesStarting(config, "projector", {
        ...env,
        WEFT_METRICS_PORT: String(ports.projector),
      }),
      await spawnRolesStarting(config, "api", { ...env, PORT: String(ports.api) }),
    );
    await inProcess(config, ["decider", "worker"]);

    await Promise.all([
      waitUntilWaitingFor(at(ports.projector), "postgres", ["projector"]),
      waitUntilWaitingFor(at(ports.api), "postgres", ["api"]),
    ]);
    for (const child of children.slice(started)) expect(child.alive()).toBe(true);

    await proxy.open();

    await Promise.all([waitUntilReady(at(ports.projector)), waitUntilReady(at(ports.api))]);
    // The run is in the read models: the projector child wrote it through the proxy.
    expect(await runThroughApi(at(ports.api), "threeSteps", { n: 20 })).toEqual({ n: 23 });
    for (const child of children.slice(started)) expect(child.alive()).toBe(true);
  }));
