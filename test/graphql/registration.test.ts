/**
 * Registration end to end on a real broker and PostgreSQL: processes publish what they host,
 * the projector keeps definitions and processes (and pending runs from start commands), and
 * the API refuses types no decider registered, accepts a registered type whose deciders are all
 * down (the run waits, PENDING) and shows it running once a decider is back.
 */
import { isDeepStrictEqual } from "node:util";
import type { FastifyInstance } from "fastify";
import type { Pool } from "pg";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { definitionHash } from "../../producers/registration-publisher";
import { createPool } from "../../projections/database";
import { migrate } from "../../projections/migrate";
import { Projector, type CommittedChanges } from "../../projections/projector";
import { replayProjections } from "../../projections/replay";
import { ReadModelDb } from "../../projections/read-model-db";
import { closeFixtures, echo, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { createTestSchema, readModelChecksums, type TestSchema } from "../support/postgres";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";
import { redisLive } from "../support/live";

let db: TestSchema;
let config: WeftConfig;
let logger: Logger;
let weft: TestWeft | undefined;
let pool: Pool;
let projector: Projector;
let commands: CommandProducer;
let app: FastifyInstance;
const committed: CommittedChanges[] = [];

beforeAll(async () => {
  db = await createTestSchema();
  config = isolatedConfig({ databaseUrl: db.databaseUrl, registrationIntervalMs: 1000 });
  logger = testLogger(config);
  pool = createPool(config, logger);
  await migrate(pool);
  projector = new Projector({
    config,
    kafka: kafkaFor(config),
    db: ReadModelDb.postgres(pool),
    logger,
    onCommitted: (changes) => void committed.push(changes),
    rewindCheckMs: 200,
  });
  await projector.start();
  commands = new CommandProducer(kafkaFor(config), config);
  await commands.connect();
  app = await createApiServer({
    live: redisLive(config, logger),
    config,
    db: ReadModelDb.postgres(pool),
    logger,
    commands,
  });
});

afterAll(async () => {
  await app?.close();
  await commands?.close();
  await weft?.stop();
  await projector?.stop();
  await pool?.end();
  await closeFixtures();
  await db?.drop();
});

interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function gql<T>(query: string, variables: Record<string, unknown> = {}) {
  const res = await app.inject({ method: "POST", url: "/graphql", payload: { query, variables } });
  return res.json<GraphQLResponse<T>>();
}

interface WorkerProcess {
  id: string;
  roles: string[];
  host: string;
  pid: number;
  queues: string[];
  workflows: string[];
  steps: string[];
  inFlight: number;
  concurrency: number | null;
  startedAt: string;
  lastSeenAt: string;
  stoppedAt: string | null;
  status: string;
}

const WORKERS = `query ($all: Boolean) {
  workers(includeStopped: $all) {
    id roles host pid queues workflows steps inFlight concurrency startedAt lastSeenAt stoppedAt status
  }
}`;

async function workers(all = false): Promise<WorkerProcess[]> {
  const res = await gql<{ workers: WorkerProcess[] }>(WORKERS, { all });
  expect(res.errors).toBeUndefined();
  return res.data!.workers;
}

async function processOf(id: string): Promise<WorkerProcess | undefined> {
  return (await workers(true)).find((p) => p.id === id);
}

const START = `mutation ($type: String!, $workflowId: String, $input: JSON) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input) { workflowId waitingForDecider }
}`;

const RUN = `query ($id: String!) { workflow(id: $id) { id type status waitingForDecider lastSeq input } }`;

interface Run {
  id: string;
  type: string;
  status: string;
  waitingForDecider: boolean;
  lastSeq: number;
  input: unknown;
}

async function run(id: string): Promise<Run | null> {
  const res = await gql<{ workflow: Run | null }>(RUN, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.workflow;
}

async function startWeft(): Promise<TestWeft> {
  weft = await startTestWeft(config, {
    workflows: [threeSteps],
    steps,
    worker: { concurrency: 7 },
  });
  return weft;
}

it("stores what a starting process hosts, with first and last seen", async () => {
  const { runtime } = await startWeft();
  const id = runtime.processId!;
  expect(id).toBe(runtime.worker!.id);

  const first = await waitFor("the process's registration", () => processOf(id));
  expect(first).toMatchObject({
    id,
    roles: ["decider", "worker"],
    pid: process.pid,
    queues: ["default"],
    workflows: ["threeSteps"],
    steps: steps.map((s) => s.name),
    inFlight: 0,
    concurrency: 7,
    stoppedAt: null,
    status: "ALIVE",
  });
  // Beats move last seen on; first seen and startedAt stay.
  const later = await waitFor("a later beat", async () => {
    const p = await processOf(id);
    return p && Date.parse(p.lastSeenAt) > Date.parse(first.lastSeenAt) ? p : undefined;
  });
  expect(later.startedAt).toBe(first.startedAt);

  const defs = await gql<{
    definitions: {
      kind: string;
      name: string;
      hash: string;
      taskQueue: string | null;
      retry: unknown;
      timeoutMs: number | null;
      firstSeenAt: string;
      lastSeenAt: string;
      hosts: string[];
    }[];
  }>(`{ definitions { kind name hash taskQueue retry timeoutMs firstSeenAt lastSeenAt hosts } }`);
  expect(defs.errors).toBeUndefined();
  const all = defs.data!.definitions;
  expect(all.map((d) => `${d.kind}:${d.name}`).sort()).toEqual(
    [...steps.map((s) => `STEP:${s.name}`), "WORKFLOW:threeSteps"].sort(),
  );
  const workflow = all.find((d) => d.kind === "WORKFLOW")!;
  expect(workflow).toMatchObject({
    hash: definitionHash(threeSteps.fn, threeSteps.options),
    hosts: [id],
  });
  expect(Date.parse(workflow.firstSeenAt)).toBeLessThanOrEqual(Date.parse(workflow.lastSeenAt));
  expect(all.find((d) => d.name === "echo")).toMatchObject({
    hash: definitionHash(echo.handler, echo.options),
    taskQueue: "default",
    hosts: [id],
  });
  const onlySteps = await gql<{ definitions: { kind: string }[] }>(
    `{ definitions(kind: STEP) { kind } }`,
  );
  expect(new Set(onlySteps.data!.definitions.map((d) => d.kind))).toEqual(new Set(["STEP"]));
  expect(committed.some((c) => c.processIds.includes(id))).toBe(true);
});

it("refuses to start a type no decider ever registered", async () => {
  const res = await gql(START, { type: "neverRegistered" });
  expect(res.errors?.map((e) => e.extensions?.code)).toEqual(["UNKNOWN_WORKFLOW_TYPE"]);
  expect(res.errors?.[0]?.message).toContain("neverRegistered");
});

it("a registered type whose deciders are down waits as PENDING, then runs when one is back", async () => {
  const id = weft!.runtime.processId!;
  await weft!.stop();
  weft = undefined;
  const stopped = await waitFor("the goodbye", async () => {
    const p = await processOf(id);
    return p?.status === "STOPPED" ? p : undefined;
  });
  expect(stopped.stoppedAt).not.toBeNull();
  expect((await workers()).map((p) => p.id)).not.toContain(id);

  const res = await gql<{ startWorkflow: { workflowId: string; waitingForDecider: boolean } }>(
    START,
    { type: "threeSteps", workflowId: "waits", input: { n: 3 } },
  );
  expect(res).toEqual({
    data: { startWorkflow: { workflowId: "waits", waitingForDecider: true } },
  });
  const pending = await waitFor("the pending run", async () => (await run("waits")) ?? undefined);
  expect(pending).toMatchObject({
    type: "threeSteps",
    status: "PENDING",
    waitingForDecider: true,
    lastSeq: 0,
    input: { n: 3 },
  });
  const listed = await gql<{ workflows: { nodes: { id: string }[] } }>(
    `{ workflows(filter: { status: PENDING }) { nodes { id } } }`,
  );
  expect(listed.data!.workflows.nodes.map((n) => n.id)).toEqual(["waits"]);

  const { client, runtime } = await startWeft();
  await expect(client.result("waits", { timeoutMs: 30_000 })).resolves.toBeDefined();
  const history = await client.getHistory("waits");
  const done = await waitFor("the run projected", async () => {
    const r = await run("waits");
    return r?.lastSeq === history.length ? r : undefined;
  });
  expect(done).toMatchObject({ status: "COMPLETED", waitingForDecider: false });

  // Alive again: a start no longer waits.
  await waitFor("the new process", async () => (await processOf(runtime.processId!))?.status);
  const again = await gql<{ startWorkflow: { workflowId: string; waitingForDecider: boolean } }>(
    START,
    { type: "threeSteps", input: { n: 1 } },
  );
  expect(again.data?.startWorkflow.waitingForDecider).toBe(false);
  await client.result(again.data!.startWorkflow.workflowId, { timeoutMs: 30_000 });
});

it("replay projections rebuilds the same rows, registration tables included", async () => {
  // No beats while comparing: the last process says goodbye first.
  const id = weft!.runtime.processId!;
  await weft!.stop();
  weft = undefined;
  await waitFor("the goodbye", async () => (await processOf(id))?.status === "STOPPED");
  // Caught up: the same checksums twice, a second apart.
  let last = await readModelChecksums(pool);
  const before = await waitFor("the projector to catch up", async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await readModelChecksums(pool);
    const same = isDeepStrictEqual(now, last);
    last = now;
    return same ? now : undefined;
  });
  expect(before.weft_processes!.rows).toBe(2);
  expect(before.weft_definitions!.rows).toBe(steps.length + 1);

  await replayProjections(config, { pool, logger });
  await waitFor("the rebuild", async () =>
    isDeepStrictEqual(await readModelChecksums(pool), before),
  );
});
