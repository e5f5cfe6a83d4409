/**
 * The GraphQL API end to end: mutations produce commands to a real Kafka broker (topics of its
 * own), decider and worker run in this process, the projector fills the read models (on
 * PostgreSQL, a schema of their own, and on SQLite, a file of their own), and queries read them.
 */
import type { FastifyInstance } from "fastify";
import type { WeftConfig } from "../../core/config";
import { WorkflowCancelledError, WorkflowFailedError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { migrate } from "../../projections/migrate";
import { Projector } from "../../projections/projector";
import type { ReadModelDb } from "../../projections/read-model-db";
import { approval, closeFixtures, sleepy, steps, tally, threeSteps } from "../fixtures/workflows";
import { napOrWake, scopeSteps, stopWork } from "../fixtures/scopes";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from "../support/read-models";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";
import { redisLive } from "../support/live";

describe.each(TEST_DIALECTS)("the API on %s", (dialect) => {
  let db: TestDatabase;
  let config: WeftConfig;
  let logger: Logger;
  let weft: TestWeft;
  let pool: ReadModelDb;
  let projector: Projector;
  let commands: CommandProducer;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    config = isolatedConfig({ databaseUrl: db.databaseUrl });
    logger = testLogger(config);
    weft = await startTestWeft(config, {
      workflows: [threeSteps, approval, sleepy, tally, stopWork, napOrWake],
      steps: [...steps, ...scopeSteps],
    });
    pool = db.db;
    await migrate(pool);
    projector = new Projector({ config, kafka: kafkaFor(config), db: pool, logger });
    await projector.start();
    commands = new CommandProducer(kafkaFor(config), config);
    await commands.connect();
    app = await createApiServer({
      live: redisLive(config, logger),
      config,
      db: pool,
      logger,
      commands,
    });
    // The API starts only types a decider registered: wait until the projector has them.
    await waitFor("the decider's registration", async () => {
      const rows = await pool.db
        .selectFrom("weft_definitions")
        .select("name")
        .distinct()
        .where("kind", "=", "workflow")
        .execute();
      return rows.length === 6;
    });
  });

  afterAll(async () => {
    await app?.close();
    await commands?.close();
    await projector?.stop();
    await weft?.stop();
    await closeFixtures();
    await db?.drop();
  });

  interface GraphQLResponse<T> {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  }

  async function gql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<GraphQLResponse<T>> {
    const res = await app.inject({
      method: "POST",
      url: "/graphql",
      payload: { query, variables },
    });
    return res.json<GraphQLResponse<T>>();
  }

  /** The codes of a response's errors, which must leave the server running. */
  async function errorCodes(query: string, variables: Record<string, unknown> = {}) {
    const res = await gql(query, variables);
    return (res.errors ?? []).map((e) => e.extensions?.code);
  }

  async function waitProjected(workflowId: string): Promise<number> {
    const history = await weft.client.getHistory(workflowId);
    await waitFor("the projector to catch up", async () => {
      const row = await pool.db
        .selectFrom("weft_runs")
        .select("last_seq")
        .where("workflow_id", "=", workflowId)
        .executeTakeFirst();
      return row?.last_seq === history.length;
    });
    return history.length;
  }

  const START = `mutation ($type: String!, $workflowId: String, $input: JSON, $key: String) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input, idempotencyKey: $key) { workflowId }
}`;

  const WORKFLOW = `query ($id: String!) {
  workflow(id: $id) {
    id type status input result error lastSeq startedAt closedAt waitingOn
    steps { stepSeq attempt stepName taskQueue status workerId scheduledAt startedAt finishedAt durationMs result }
    timers { kind seq attempt dueAt firedAt status }
    signals { seq name payload requestId receivedAt waitSeq }
    events { seq type at body }
  }
}`;

  interface WorkflowData {
    workflow: {
      id: string;
      type: string;
      status: string;
      input: unknown;
      result: unknown;
      lastSeq: number;
      steps: { stepSeq: number; attempt: number; stepName: string; status: string }[];
      timers: {
        kind: string;
        seq: number;
        status: string;
        dueAt: string;
        firedAt: string | null;
      }[];
      signals: { seq: number; name: string; payload: unknown; waitSeq: number | null }[];
      events: { seq: number; type: string; at: string; body: unknown }[];
    } | null;
  }

  async function start(variables: Record<string, unknown>): Promise<string> {
    const res = await gql<{ startWorkflow: { workflowId: string } }>(START, variables);
    expect(res.errors).toBeUndefined();
    return res.data!.startWorkflow.workflowId;
  }

  it("starts a run that completes; workflow(id) returns its steps, timers and history", async () => {
    const workflowId = await start({
      type: "sleepy",
      input: { ms: 200 },
      workflowId: "gql-sleepy",
    });
    expect(workflowId).toBe("gql-sleepy");
    await weft.client.result(workflowId, { timeoutMs: 30_000 });
    const length = await waitProjected(workflowId);
    const history = await weft.client.getHistory(workflowId);

    const { data, errors } = await gql<WorkflowData>(WORKFLOW, { id: workflowId });
    expect(errors).toBeUndefined();
    const run = data!.workflow!;
    expect(run).toMatchObject({
      id: workflowId,
      type: "sleepy",
      status: "COMPLETED",
      input: { ms: 200 },
      lastSeq: length,
    });
    expect(run.events).toEqual(
      history.map((e) => ({
        seq: e.seq,
        type: e.body.type,
        at: new Date(e.at).toISOString(),
        body: e.body,
      })),
    );
    const scheduled = history.filter((e) => e.body.type === "StepScheduled");
    expect(run.steps.map((s) => [s.stepSeq, s.attempt, s.stepName, s.status])).toEqual(
      scheduled.map((e) => {
        const body = e.body as { stepSeq: number; attempt: number; stepName: string };
        return [body.stepSeq, body.attempt, body.stepName, "completed"];
      }),
    );
    const timerStarted = history.find((e) => e.body.type === "TimerStarted")!;
    const timerBody = timerStarted.body as { timerSeq: number; dueAt: number };
    expect(run.timers).toEqual([
      expect.objectContaining({
        kind: "sleep",
        seq: timerBody.timerSeq,
        status: "fired",
        dueAt: new Date(timerBody.dueAt).toISOString(),
      }),
    ]);
    expect(run.signals).toEqual([]);
  });

  it("shows what a cancelled scope stopped: the step cancelled, the month's timer cancelled", async () => {
    const SIGNAL = `mutation ($id: String!, $name: String!, $payload: JSON) {
      signalWorkflow(workflowId: $id, name: $name, payload: $payload) { accepted }
    }`;
    const stopped = await start({ type: "stopWork", input: { key: `gql-${dialect}` } });
    await waitFor("the step's start", async () =>
      (await weft.client.getHistory(stopped)).some((e) => e.body.type === "StepStarted"),
    );
    await gql(SIGNAL, { id: stopped, name: "stop", payload: { why: "enough" } });
    await weft.client.result(stopped, { timeoutMs: 30_000 });
    const napping = await start({ type: "napOrWake" });
    await waitFor("the wait for wake", async () =>
      (await weft.client.getHistory(napping)).some((e) => e.body.type === "SignalWaitStarted"),
    );
    await gql(SIGNAL, { id: napping, name: "wake", payload: {} });
    await weft.client.result(napping, { timeoutMs: 30_000 });

    await waitProjected(stopped);
    const step = (await gql<WorkflowData>(WORKFLOW, { id: stopped })).data!.workflow!;
    expect(step.steps.map((s) => [s.stepSeq, s.stepName, s.status])).toEqual([
      [1, "longWork", "cancelled"],
      [3, "note", "completed"],
    ]);
    expect(step.events.map((e) => e.type)).toContain("StepCancelled");
    await waitProjected(napping);
    const nap = (await gql<WorkflowData>(WORKFLOW, { id: napping })).data!.workflow!;
    expect(nap.status).toBe("COMPLETED");
    expect(nap.timers).toEqual([
      expect.objectContaining({ kind: "sleep", seq: 1, status: "cancelled", firedAt: null }),
    ]);
  });

  it("signals and cancels runs through mutations", async () => {
    const signalled = await start({ type: "approval", input: { timeoutMs: 60_000 } });
    const cancelled = await start({ type: "approval", input: { timeoutMs: 60_000 } });
    const signal = await gql(
      `mutation ($id: String!) { signalWorkflow(workflowId: $id, name: "approve", payload: { approvedBy: "ada" }) { workflowId accepted requestId } }`,
      { id: signalled },
    );
    // Without a request ID, the API makes one and returns it.
    expect(signal).toEqual({
      data: {
        signalWorkflow: { workflowId: signalled, accepted: true, requestId: expect.any(String) },
      },
    });
    await expect(weft.client.result(signalled, { timeoutMs: 30_000 })).resolves.toEqual({
      approved: true,
      by: "ada",
    });
    const cancel = await gql(
      `mutation ($id: String!) { cancelWorkflow(workflowId: $id, reason: "not needed", requestId: "cancel-1") { accepted requestId } }`,
      { id: cancelled },
    );
    expect(cancel).toEqual({ data: { cancelWorkflow: { accepted: true, requestId: "cancel-1" } } });
    await expect(weft.client.result(cancelled, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
      WorkflowCancelledError,
    );

    await waitProjected(signalled);
    const { data } = await gql<WorkflowData>(WORKFLOW, { id: signalled });
    expect(data!.workflow!.signals).toEqual([
      expect.objectContaining({
        name: "approve",
        payload: { approvedBy: "ada" },
        requestId: (signal.data as { signalWorkflow: { requestId: string } }).signalWorkflow
          .requestId,
      }),
    ]);
    await waitProjected(cancelled);
    const cancelledRun = await gql<WorkflowData>(WORKFLOW, { id: cancelled });
    expect(cancelledRun.data!.workflow!.status).toBe("CANCELLED");
    expect(cancelledRun.data!.workflow!.events.at(-1)!.body).toMatchObject({
      requestId: "cancel-1",
    });
  });

  it("records a signal retried with the same requestId once", async () => {
    const id = await start({ type: "tally" });
    const SIGNAL = `mutation ($id: String!, $payload: JSON, $requestId: String) {
      signalWorkflow(workflowId: $id, name: "add", payload: $payload, requestId: $requestId) { requestId }
    }`;
    for (let i = 0; i < 2; i++) {
      const res = await gql(SIGNAL, { id, payload: { n: 5 }, requestId: "tally-request-1" });
      expect(res).toEqual({ data: { signalWorkflow: { requestId: "tally-request-1" } } });
    }
    await gql(SIGNAL, { id, payload: { done: true } });
    await expect(weft.client.result(id, { timeoutMs: 30_000 })).resolves.toEqual({ seen: [5] });
    await waitProjected(id);
    const { data } = await gql<WorkflowData>(WORKFLOW, { id });
    expect(data!.workflow!.signals.map((s) => s.payload)).toEqual([{ n: 5 }, { done: true }]);
  });

  it("takes an execution timeout on startWorkflow and signalWithStart, and refuses one that is not whole positive milliseconds", async () => {
    const START_WITH_TIMEOUT = `mutation ($input: JSON, $ms: Float) {
      startWorkflow(type: "approval", input: $input, executionTimeoutMs: $ms) { workflowId }
    }`;
    const res = await gql<{ startWorkflow: { workflowId: string } }>(START_WITH_TIMEOUT, {
      input: { timeoutMs: 600_000 },
      ms: 300,
    });
    const id = res.data!.startWorkflow.workflowId;
    const error = await weft.client.result(id, { timeoutMs: 30_000 }).then(
      () => undefined,
      (err: unknown) => err as WorkflowFailedError,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(error!.details.errorCode).toBe("WORKFLOW_TIMEOUT");
    expect(error!.message).toMatch(/execution timeout \(executionTimeoutMs\) of 300 ms passed/);
    const started = (await weft.client.getHistory(id))[0]!;
    expect(started.body).toMatchObject({
      type: "WorkflowStarted",
      executionTimeoutMs: 300,
      executionDeadline: started.at + 300,
    });

    const SIGNAL_WITH_START = `mutation ($id: String!, $ms: Float) {
      signalWithStart(type: "tally", workflowId: $id, name: "add", payload: { n: 1 }, executionTimeoutMs: $ms) { workflowId }
    }`;
    const sws = await gql(SIGNAL_WITH_START, { id: `sws-timeout-${dialect}`, ms: 86_400_000 });
    expect(sws.errors).toBeUndefined();
    const swsStart = await waitFor(
      "the signalled run's start",
      async () => (await weft.client.getHistory(`sws-timeout-${dialect}`))[0],
    );
    expect(swsStart.body).toMatchObject({
      type: "WorkflowStarted",
      executionTimeoutMs: 86_400_000,
    });

    for (const ms of [0, -5, 1.5, 1e300]) {
      expect([ms, await errorCodes(START_WITH_TIMEOUT, { input: {}, ms })]).toEqual([
        ms,
        ["INVALID_INPUT"],
      ]);
      expect([ms, await errorCodes(SIGNAL_WITH_START, { id: "sws-refused", ms })]).toEqual([
        ms,
        ["INVALID_INPUT"],
      ]);
    }
  });

  it("the same idempotency key starts one run", async () => {
    const a = await start({ type: "threeSteps", input: { n: 1 }, key: "order-42" });
    const b = await start({ type: "threeSteps", input: { n: 1 }, key: "order-42" });
    expect(a).toBe(b);
  });

  it("pages through every run exactly once, newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(await start({ type: "threeSteps", input: { n: i }, workflowId: `page-run-${i}` }));
    }
    for (const id of ids) await weft.client.result(id, { timeoutMs: 30_000 });
    for (const id of ids) await waitProjected(id);

    const seen: { id: string; startedAt: string }[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const res: GraphQLResponse<{
        workflows: {
          nodes: { id: string; startedAt: string }[];
          pageInfo: { endCursor: string | null; hasNextPage: boolean };
        };
      }> = await gql(
        `query ($after: String) {
        workflows(filter: { text: "page-run-", type: "threeSteps", status: COMPLETED }, first: 3, after: $after) {
          nodes { id startedAt } pageInfo { endCursor hasNextPage }
        }
      }`,
        { after },
      );
      expect(res.errors).toBeUndefined();
      pages++;
      seen.push(...res.data!.workflows.nodes);
      if (!res.data!.workflows.pageInfo.hasNextPage) break;
      after = res.data!.workflows.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen.map((r) => r.id).sort()).toEqual([...ids].sort());
    const times = seen.map((r) => Date.parse(r.startedAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));

    const none = await gql<{ workflows: { nodes: unknown[] } }>(
      `{ workflows(filter: { text: "page-run-", from: "2999-01-01T00:00:00Z" }) { nodes { id } } }`,
    );
    expect(none.data!.workflows.nodes).toEqual([]);
    const unknown = await gql<WorkflowData>(WORKFLOW, { id: "no-such-run" });
    expect(unknown).toEqual({ data: { workflow: null } });
  });

  describe("errors carry a stable extensions.code", () => {
    it("INVALID_WORKFLOW_ID", async () => {
      expect(await errorCodes(START, { type: "threeSteps", workflowId: "bad id!" })).toEqual([
        "INVALID_WORKFLOW_ID",
      ]);
      expect(await errorCodes(START, { type: "threeSteps", workflowId: "x".repeat(201) })).toEqual([
        "INVALID_WORKFLOW_ID",
      ]);
      expect(await errorCodes(WORKFLOW, { id: "" })).toEqual(["INVALID_WORKFLOW_ID"]);
      expect(
        await errorCodes(`mutation { signalWorkflow(workflowId: "a b", name: "x") { accepted } }`),
      ).toEqual(["INVALID_WORKFLOW_ID"]);
      expect(await errorCodes(`mutation { cancelWorkflow(workflowId: "") { accepted } }`)).toEqual([
        "INVALID_WORKFLOW_ID",
      ]);
    });

    it("INVALID_INPUT", async () => {
      const big = { blob: "x".repeat(600 * 1024) };
      expect(await errorCodes(START, { type: "threeSteps", input: big })).toEqual([
        "INVALID_INPUT",
      ]);
      expect(await errorCodes(START, { type: " " })).toEqual(["INVALID_INPUT"]);
      expect(await errorCodes(START, { type: "threeSteps", key: "k".repeat(201) })).toEqual([
        "INVALID_INPUT",
      ]);
      expect(
        await errorCodes(
          `mutation ($p: JSON) { signalWorkflow(workflowId: "a", name: "n", payload: $p) { accepted } }`,
          { p: big },
        ),
      ).toEqual(["INVALID_INPUT"]);
      expect(
        await errorCodes(`mutation { signalWorkflow(workflowId: "a", name: "") { accepted } }`),
      ).toEqual(["INVALID_INPUT"]);
      expect(
        await errorCodes(
          `mutation { signalWorkflow(workflowId: "a", name: "n", requestId: " ") { accepted } }`,
        ),
      ).toEqual(["INVALID_INPUT"]);
      expect(
        await errorCodes(
          `mutation ($r: String) { cancelWorkflow(workflowId: "a", requestId: $r) { accepted } }`,
          { r: "r".repeat(201) },
        ),
      ).toEqual(["INVALID_INPUT"]);
      expect(
        await errorCodes(
          `mutation ($r: String) { cancelWorkflow(workflowId: "a", reason: $r) { accepted } }`,
          {
            r: "r".repeat(5000),
          },
        ),
      ).toEqual(["INVALID_INPUT"]);
      const list = (args: string) => errorCodes(`{ workflows(${args}) { nodes { id } } }`);
      expect(await list(`after: "not-a-cursor"`)).toEqual(["INVALID_INPUT"]);
      expect(await list(`first: 0`)).toEqual(["INVALID_INPUT"]);
      expect(await list(`first: 101`)).toEqual(["INVALID_INPUT"]);
      expect(await list(`filter: { from: "yesterday" }`)).toEqual(["INVALID_INPUT"]);
      expect(await list(`filter: { text: "${"t".repeat(201)}" }`)).toEqual(["INVALID_INPUT"]);
    });

    it("nothing a client sends crashes the server", async () => {
      const bodies: [string, string][] = [
        ["{", "BAD_REQUEST"],
        ["null", "BAD_REQUEST"],
        [JSON.stringify({ query: "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"],
        [JSON.stringify({ query: 42 }), "BAD_REQUEST"],
        [
          JSON.stringify({ query: '{ workflows(first: "x") { nodes { id } } }' }),
          "GRAPHQL_VALIDATION_FAILED",
        ],
        [JSON.stringify({ query: START, variables: { type: 1 } }), "BAD_USER_INPUT"],
      ];
      for (const [payload, code] of bodies) {
        const res = await app.inject({
          method: "POST",
          url: "/graphql",
          headers: { "content-type": "application/json" },
          payload,
        });
        expect([payload, res.statusCode]).toEqual([payload, 400]);
        const errors = res.json<GraphQLResponse<unknown>>().errors;
        expect([payload, errors?.map((e) => e.extensions?.code)]).toEqual([payload, [code]]);
      }
      const health = await app.inject({ method: "GET", url: "/healthz" });
      expect(health.json()).toEqual({ status: "ok" });
    });
  });

  it("an internal failure is INTERNAL, and its message stays in the log", async () => {
    const broken = db.open();
    await broken.close();
    const server = await createApiServer({
      live: redisLive(config, logger),
      config,
      db: broken,
      logger,
      commands,
    });
    try {
      const res = await server.inject({
        method: "POST",
        url: "/graphql",
        payload: { query: `{ workflow(id: "x") { id } }` },
      });
      const errors = res.json<GraphQLResponse<unknown>>().errors ?? [];
      expect(errors.map((e) => e.extensions?.code)).toEqual(["INTERNAL"]);
      expect(errors[0]!.message).not.toMatch(/pool/i);
    } finally {
      await server.close();
    }
  });

  it("serves real HTTP when listening", async () => {
    const server = await createApiServer({
      live: redisLive(config, logger),
      config,
      db: pool,
      logger,
      commands,
    });
    try {
      const address = await server.listen({ port: 0, host: "127.0.0.1" });
      const health = await fetch(`${address}/healthz`);
      expect(await health.json()).toEqual({ status: "ok" });
      const res = await fetch(`${address}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: WORKFLOW, variables: { id: "gql-sleepy" } }),
      });
      const body = (await res.json()) as WorkflowData & { data: WorkflowData };
      expect(body.data.workflow?.status).toBe("COMPLETED");
    } finally {
      await server.close();
    }
  });
});
