/**
 * Live updates end to end: a decider, a worker and a projector in one runtime, two API
 * instances in others, all on a real Kafka, PostgreSQL and Redis. Clients use real HTTP and
 * real WebSockets; the projector's changes reach the APIs through Redis.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { WeftConfig } from "../../core/config";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { closeFixtures, sleepy, steps, terminalFailure, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql, subscribe, type Subscription } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { WeftClient } from "../../sdk/client";
import { spawnRoles } from "../support/processes";

let db: TestSchema;
let config: WeftConfig;
let engine: Runtime;
let apiA: Runtime;
let apiB: Runtime;
let client: WeftClient;
const open: Subscription<unknown>[] = [];

const address = (runtime: Runtime) => runtime.api!.address;

beforeAll(async () => {
  db = await createTestSchema();
  config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  engine = await startRuntime({
    config,
    logger,
    roles: ["decider", "worker", "projector"],
    workflows: [sleepy, threeSteps, terminalFailure],
    steps,
  });
  await engine.decider?.ready();
  apiA = await startRuntime({ config, logger, roles: ["api"], api: { port: 0 } });
  apiB = await startRuntime({ config, logger, roles: ["api"], api: { port: 0 } });
  client = await WeftClient.connect({ config, logger });
  // The API starts only types a decider registered: wait until the projector has them.
  await waitFor("the decider's registration", async () => {
    const res = await httpGql<{ definitions: { name: string }[] }>(
      address(apiA),
      `{ definitions(kind: WORKFLOW) { name } }`,
    );
    return res.data?.definitions.length === 3;
  });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await client?.close();
  await apiA?.stop();
  await apiB?.stop();
  await engine?.stop();
  await closeFixtures();
  await db?.drop();
});

async function track<T>(subscription: Promise<Subscription<T>>): Promise<Subscription<T>> {
  const s = await subscription;
  open.push(s);
  return s;
}

const START = `mutation ($type: String!, $workflowId: String, $input: JSON) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input) { workflowId }
}`;

async function startVia(runtime: Runtime, variables: Record<string, unknown>): Promise<string> {
  const res = await httpGql<{ startWorkflow: { workflowId: string } }>(
    address(runtime),
    START,
    variables,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.startWorkflow.workflowId;
}

interface EventData {
  workflowEvents: { seq: number; type: string; at: string; body: unknown };
}
interface UpdateData {
  workflowUpdated: { id: string; status: string; lastSeq: number };
}

it("a WebSocket subscription receives a run's events live while it runs", async () => {
  const workflowId = "live-events-1";
  const events = await track(
    subscribe<EventData>(
      address(apiA),
      `subscription ($id: String!) { workflowEvents(workflowId: $id, afterSeq: 0) { seq type at body } }`,
      { id: workflowId },
    ),
  );
  const updates = await track(
    subscribe<UpdateData>(
      address(apiA),
      `subscription ($f: WorkflowFilter) { workflowUpdated(filter: $f) { id status lastSeq } }`,
      { f: { text: workflowId } },
    ),
  );
  await sleep(300);
  await startVia(apiA, { type: "sleepy", workflowId, input: { ms: 1500 } });

  // While the run sleeps, its first events have already arrived.
  await events.until("the timer to start", (v) =>
    v.some((e) => e.workflowEvents.type === "TimerStarted"),
  );
  expect(updates.values.map((u) => u.workflowUpdated.status)).not.toContain("COMPLETED");

  await updates.until("the run to complete", (v) =>
    v.some((u) => u.workflowUpdated.status === "COMPLETED"),
  );
  const history = await client.getHistory(workflowId);
  await events.until("every event", (v) => v.length === history.length);
  expect(events.values.map((v) => v.workflowEvents)).toEqual(
    history.map((e) => ({
      seq: e.seq,
      type: e.body.type,
      at: new Date(e.at).toISOString(),
      body: e.body,
    })),
  );
  const statuses = updates.values.map((u) => u.workflowUpdated.status);
  expect(statuses).toContain("RUNNING");
  expect(statuses.at(-1)).toBe("COMPLETED");
  expect(updates.values.every((u) => u.workflowUpdated.id === workflowId)).toBe(true);
});

it("a subscription on one API instance sees a run started through the other", async () => {
  const updates = await track(
    subscribe<UpdateData>(
      address(apiB),
      `subscription { workflowUpdated(filter: { type: "threeSteps" }) { id status lastSeq } }`,
    ),
  );
  await sleep(300);
  const workflowId = await startVia(apiA, { type: "threeSteps", input: { n: 1 } });
  await updates.until("the run to complete on the other instance", (v) =>
    v.some((u) => u.workflowUpdated.id === workflowId && u.workflowUpdated.status === "COMPLETED"),
  );
  expect(updates.values.every((u) => u.workflowUpdated.id === workflowId)).toBe(true);
});

it("afterSeq replays the stored events first, without gap or repeat", async () => {
  const workflowId = await startVia(apiA, { type: "threeSteps", input: { n: 5 } });
  await client.result(workflowId, { timeoutMs: 30_000 });
  const history = await client.getHistory(workflowId);
  await waitFor("the projector", async () => {
    const res = await httpGql<{ workflow: { lastSeq: number } | null }>(
      address(apiB),
      `query ($id: String!) { workflow(id: $id) { lastSeq } }`,
      { id: workflowId },
    );
    return res.data?.workflow?.lastSeq === history.length;
  });
  const events = await track(
    subscribe<EventData>(
      address(apiB),
      `subscription ($id: String!) { workflowEvents(workflowId: $id, afterSeq: 2) { seq } }`,
      { id: workflowId },
    ),
  );
  await events.until("the stored events", (v) => v.length === history.length - 2);
  expect(events.values.map((v) => v.workflowEvents.seq)).toEqual(
    history.slice(2).map((e) => e.seq),
  );
});

it("stats are pushed when runs change; failed steps and pending timers are queryable", async () => {
  interface StatsData {
    stats: { counts: { status: string; count: number }[]; pendingTimers: number };
  }
  const count = (s: StatsData, status: string) =>
    s.stats.counts.find((c) => c.status === status)?.count ?? 0;
  const stats = await track(
    subscribe<StatsData>(
      address(apiB),
      `subscription { stats { counts { status count } pendingTimers } }`,
    ),
  );
  await stats.until("the first stats", (v) => v.length > 0);
  const failedBefore = count(stats.values[0]!, "FAILED");

  const sleeper = await startVia(apiA, { type: "sleepy", input: { ms: 3000 } });
  const timers = await waitFor("the timer to be pending", async () => {
    const res = await httpGql<{ pendingTimers: { workflowId: string; kind: string }[] }>(
      address(apiA),
      `{ pendingTimers { workflowId workflowType kind seq attempt dueAt } }`,
    );
    const mine = res.data?.pendingTimers.filter((t) => t.workflowId === sleeper) ?? [];
    return mine.length > 0 && mine;
  });
  expect(timers[0]).toMatchObject({ workflowId: sleeper, workflowType: "sleepy", kind: "sleep" });

  const failing = await startVia(apiA, { type: "terminalFailure" });
  await stats.until("the failure to be counted", (v) => count(v.at(-1)!, "FAILED") > failedBefore);

  const res = await httpGql<{
    failedSteps: { workflowId: string; stepName: string; error: { message: string } }[];
  }>(
    address(apiA),
    `{ failedSteps(first: 10) { workflowId workflowType stepSeq attempt stepName taskQueue status workerId error finishedAt } }`,
  );
  expect(res.errors).toBeUndefined();
  expect(res.data!.failedSteps[0]).toMatchObject({
    workflowId: failing,
    stepName: "flaky",
    error: expect.objectContaining({ message: "the card was declined" }),
  });

  await client.result(sleeper, { timeoutMs: 30_000 });
  await waitFor("the fired timer to leave the pending list", async () => {
    const after = await httpGql<{ pendingTimers: { workflowId: string }[] }>(
      address(apiA),
      `{ pendingTimers { workflowId } }`,
    );
    return !after.data?.pendingTimers.some((t) => t.workflowId === sleeper);
  });
});

it("the workers subscription shows a worker join, then turn stale when it is killed", async () => {
  interface WorkersData {
    workers: { id: string; pid: number; roles: string[]; status: string }[];
  }
  const workers = await track(
    subscribe<WorkersData>(address(apiB), `subscription { workers { id pid roles status } }`),
  );
  await workers.until("the first list", (v) => v.length > 0);
  const child = await spawnRoles(config, "worker", { WEFT_REGISTRATION_INTERVAL_MS: "400" });
  try {
    const mine = (v: WorkersData[]) => v.at(-1)?.workers.find((w) => w.pid === child.pid);
    await workers.until("the new worker, alive", (v) => mine(v)?.status === "ALIVE");
    expect(mine(workers.values)?.roles).toEqual(["worker"]);
    await child.kill9();
    // Three silent intervals (1.2 s) and it is stale: no message says so, the API notices.
    await workers.until("the killed worker, stale", (v) => mine(v)?.status === "STALE", 15_000);
  } finally {
    await child.kill9().catch(() => undefined);
  }
});

it("stats carry throughput per minute and backlogs from consumer lag", async () => {
  const workflowId = await startVia(apiA, { type: "threeSteps", input: { n: 9 } });
  await client.result(workflowId, { timeoutMs: 30_000 });
  interface Stats {
    throughput: { minute: string; started: number; completed: number }[];
    backlog: { queue: string; backlog: number }[];
    commandBacklog: number;
    projectorLag: number;
  }
  const stats = await waitFor("the projector and workers to catch up", async () => {
    const res = await httpGql<{ stats: Stats }>(
      address(apiB),
      `{ stats { throughput { minute started completed failed } backlog { queue backlog }
                 commandBacklog projectorLag pendingTimers at } }`,
    );
    const s = res.data?.stats;
    // Caught up: what is left is at most a transaction marker per partition.
    const caughtUp =
      s &&
      s.projectorLag === 0 &&
      s.backlog.length > 0 &&
      s.backlog.every((b) => b.backlog <= config.taskPartitions) &&
      s.commandBacklog <= config.commandPartitions;
    return caughtUp && s;
  });
  expect(stats.throughput).toHaveLength(15);
  const thisMinute = stats.throughput.at(-1)!;
  expect(thisMinute.started + stats.throughput.at(-2)!.started).toBeGreaterThan(0);
  expect(stats.backlog.map((b) => b.queue)).toContain("default");
});
