/**
 * Issue 11, honest errors: a signal or cancel to a run never started is NOT_FOUND, to a closed
 * run RUN_CLOSED, through the GraphQL API, the `weft` CLI (exit 2) and the client; and a run
 * started a moment ago, which the read models (or the client's history) do not show yet, still
 * takes its signal. On both backends: Kafka + PostgreSQL, and the embedded log + SQLite, with
 * the decider, worker, projector and API of this process (the projector stopped and started
 * by hand, so "not projected yet" is a state the test holds, not a race it hopes to win).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { WeftConfig } from "../../core/config";
import { RunClosedError, RunNotFoundError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { migrate } from "../../projections/migrate";
import { Projector } from "../../projections/projector";
import { WeftClient } from "../../sdk/client";
import { embeddedBackends } from "../../adapters/embedded-backends";
import { tempDir } from "../embedded/helpers";
import { approval, closeFixtures, steps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { types } from "../support/history";
import { createTestDatabase, type TestDatabase } from "../support/read-models";
import { startTestWeft, type TestWeft } from "../support/weft";
import { redisLive } from "../support/live";

const ROOT = join(__dirname, "..", "..");

const START = `mutation ($type: String!, $input: JSON) {
  startWorkflow(type: $type, input: $input) { workflowId }
}`;
const SIGNAL = `mutation ($id: String!, $payload: JSON, $requestId: String) {
  signalWorkflow(workflowId: $id, name: "approve", payload: $payload, requestId: $requestId) { workflowId accepted requestId }
}`;
const CANCEL = `mutation ($id: String!, $requestId: String) {
  cancelWorkflow(workflowId: $id, reason: "test", requestId: $requestId) { workflowId accepted requestId }
}`;

interface Answer {
  status: number;
  data: Record<string, { workflowId: string; accepted: boolean; requestId: string }> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

type Backend = "server" | "embedded";

describe.each<Backend>(["server", "embedded"])("on the %s backend", (backend) => {
  let db: TestDatabase;
  let config: WeftConfig;
  let logger: Logger;
  let dir: ReturnType<typeof tempDir> | undefined;
  let weft: TestWeft;
  let projector: Projector | undefined;
  let commands: CommandProducer;
  let app: FastifyInstance;
  let address: string;

  const startProjector = async () => {
    projector = new Projector({ config, kafka: weft.transport, db: db.db, logger });
    await projector.start();
  };

  beforeAll(async () => {
    db = await createTestDatabase(backend === "server" ? "postgres" : "sqlite");
    config = isolatedConfig({ databaseUrl: db.databaseUrl });
    logger = testLogger(config);
    dir = backend === "embedded" ? tempDir() : undefined;
    const backends = dir
      ? await embeddedBackends({ directory: dir.dir, sync: "never", logger })
      : undefined;
    weft = await startTestWeft(config, { backends, workflows: [approval], steps });
    await migrate(db.db);
    await startProjector();
    commands = new CommandProducer(weft.transport, config);
    await commands.connect();
    // Long enough that a run the read models lack is answered only once the projector has
    // caught up: the answer this test expects, whatever the machine's load.
    app = await createApiServer({
      live: redisLive(config, logger),
      config,
      db: db.db,
      logger,
      commands,
      runCheck: { waitMs: 120_000 },
    });
    address = await app.listen({ port: 0, host: "127.0.0.1" });
    await waitFor("the decider's registration", async () => {
      const rows = await db.db.db
        .selectFrom("weft_definitions")
        .select("name")
        .where("kind", "=", "workflow")
        .execute();
      return rows.length > 0;
    });
  });

  afterAll(async () => {
    await app?.close();
    await commands?.close();
    await projector?.stop();
    await weft?.stop();
    await closeFixtures();
    await db?.drop();
    dir?.cleanup();
  });

  async function gql(
    query: string,
    variables: Record<string, unknown>,
    server: FastifyInstance = app,
  ): Promise<Answer> {
    const res = await server.inject({
      method: "POST",
      url: "/graphql",
      payload: { query, variables },
    });
    return { status: res.statusCode, ...res.json<Omit<Answer, "status">>() };
  }

  const codes = (answer: Answer) => (answer.errors ?? []).map((e) => e.extensions?.code);

  async function startRun(timeoutMs = 60_000): Promise<string> {
    const res = await gql(START, { type: "approval", input: { timeoutMs } });
    expect(res.errors).toBeUndefined();
    return res.data!.startWorkflow!.workflowId;
  }

  const statusOf = async (workflowId: string) =>
    (
      await db.db.db
        .selectFrom("weft_runs")
        .select("status")
        .where("workflow_id", "=", workflowId)
        .executeTakeFirst()
    )?.status;

  const projected = (workflowId: string, status: string) =>
    waitFor(
      `${workflowId} to be projected ${status}`,
      async () => (await statusOf(workflowId)) === status,
    );

  /** Runs `weft` from the sources against this API. */
  function weftCli(
    args: string[],
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/weft.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, WEFT_API_URL: address },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) =>
      child.once("close", (code) => resolve({ code, stdout, stderr })),
    );
  }

  it("a signal or cancel to a run never started: NOT_FOUND, and nothing is sent", async () => {
    const id = `never-started-${backend}`;
    const before = await commands.partitionEnd(id);
    for (const [query, field] of [
      [SIGNAL, "signalWorkflow"],
      [CANCEL, "cancelWorkflow"],
    ] as const) {
      const res = await gql(query, { id });
      expect([field, res.status, codes(res), res.data]).toEqual([field, 200, ["NOT_FOUND"], null]);
      expect(res.errors![0]!.message).toMatch(/^no run "never-started-\w+": no start/);
    }
    expect((await commands.partitionEnd(id)).end).toBe(before.end);
  });

  it("to a closed run: RUN_CLOSED, unless it recorded that very request", async () => {
    const completed = await startRun();
    const approve = await gql(SIGNAL, {
      id: completed,
      payload: { approvedBy: "ada" },
      requestId: "approve-1",
    });
    expect(approve.data).toEqual({
      signalWorkflow: { workflowId: completed, accepted: true, requestId: "approve-1" },
    });
    await expect(weft.client.result(completed, { timeoutMs: 30_000 })).resolves.toEqual({
      approved: true,
      by: "ada",
    });
    await projected(completed, "completed");
    for (const query of [SIGNAL, CANCEL]) {
      const res = await gql(query, { id: completed, payload: { approvedBy: "bob" } });
      expect([res.status, codes(res)]).toEqual([200, ["RUN_CLOSED"]]);
      expect(res.errors![0]!.message).toBe(
        `run "${completed}" is completed: a closed run takes no signal or cancel`,
      );
    }
    // The retry of the signal that completed it (its answer lost, say): it got through.
    const retry = await gql(SIGNAL, {
      id: completed,
      payload: { approvedBy: "ada" },
      requestId: "approve-1",
    });
    expect(retry.data).toEqual({
      signalWorkflow: { workflowId: completed, accepted: true, requestId: "approve-1" },
    });

    const cancelled = await startRun();
    expect((await gql(CANCEL, { id: cancelled, requestId: "cancel-1" })).data).toEqual({
      cancelWorkflow: { workflowId: cancelled, accepted: true, requestId: "cancel-1" },
    });
    await projected(cancelled, "cancelled");
    expect(codes(await gql(CANCEL, { id: cancelled }))).toEqual(["RUN_CLOSED"]);
    expect(codes(await gql(SIGNAL, { id: cancelled, requestId: "cancel-1" }))).toEqual([
      "RUN_CLOSED",
    ]);
    expect((await gql(CANCEL, { id: cancelled, requestId: "cancel-1" })).data).toEqual({
      cancelWorkflow: { workflowId: cancelled, accepted: true, requestId: "cancel-1" },
    });
  });

  it("a signal right after the start, before the read models have the run, is accepted and received", async () => {
    await projector!.stop();
    projector = undefined;
    const workflowId = await startRun();
    let answered = false;
    const answer = gql(SIGNAL, { id: workflowId, payload: { approvedBy: "early" } }).finally(
      () => (answered = true),
    );
    // The decider has the run and waits for the signal; the read models cannot have it.
    await waitFor("the signal wait", async () =>
      types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
    );
    expect(await statusOf(workflowId)).toBeUndefined();
    expect(answered).toBe(false);

    // Meanwhile an API that waits only briefly sends a signal unconfirmed, never NOT_FOUND.
    const impatient = await createApiServer({
      live: redisLive(config, logger),
      config,
      db: db.db,
      logger,
      commands,
      runCheck: { waitMs: 50 },
    });
    try {
      const other = await startRun();
      const sent = await gql(
        SIGNAL,
        { id: other, payload: { approvedBy: "impatient" } },
        impatient,
      );
      expect(sent.data).toEqual({
        signalWorkflow: { workflowId: other, accepted: true, requestId: expect.any(String) },
      });
      await expect(weft.client.result(other, { timeoutMs: 30_000 })).resolves.toEqual({
        approved: true,
        by: "impatient",
      });
    } finally {
      await impatient.close();
    }
    expect(answered).toBe(false);

    await startProjector();
    expect((await answer).data).toEqual({
      signalWorkflow: { workflowId, accepted: true, requestId: expect.any(String) },
    });
    await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
      approved: true,
      by: "early",
    });
  });

  it("weft workflow signal / cancel: NOT_FOUND and RUN_CLOSED on one line, exit 2", async () => {
    const open = await startRun();
    const closed = await startRun();
    expect(codes(await gql(CANCEL, { id: closed }))).toEqual([]);
    await projected(closed, "cancelled");

    const unknown = await weftCli(["workflow", "signal", "never-started-cli", "approve"]);
    expect([unknown.code, unknown.stdout]).toEqual([2, ""]);
    expect(unknown.stderr).toMatch(/^weft: NOT_FOUND: no run "never-started-cli": no start/);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);

    const cancel = await weftCli(["workflow", "cancel", closed]);
    expect([cancel.code, cancel.stdout]).toEqual([2, ""]);
    expect(cancel.stderr.trim()).toBe(
      `weft: RUN_CLOSED: run "${closed}" is cancelled: a closed run takes no signal or cancel`,
    );

    const sent = await weftCli(["workflow", "signal", open, "approve", '{"approvedBy":"cli"}']);
    expect([sent.code, sent.stderr]).toEqual([0, ""]);
    expect(sent.stdout).toMatch(new RegExp(`^signal approve sent to ${open}`));
    await expect(weft.client.result(open, { timeoutMs: 30_000 })).resolves.toEqual({
      approved: true,
      by: "cli",
    });
  });

  it("the client: RunNotFoundError and RunClosedError with their codes", async () => {
    const { client } = weft;
    const unknown = await client.signal("never-started-client", "approve").catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(RunNotFoundError);
    expect(unknown).toMatchObject({ code: "NOT_FOUND" });
    await expect(client.cancel("never-started-client")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });

    const { workflowId } = await client.start(approval, { input: { timeoutMs: 60_000 } });
    const first = await client.signal(workflowId, "approve", { approvedBy: "ada" });
    await client.result(workflowId, { timeoutMs: 30_000 });
    const closed = await client
      .signal(workflowId, "approve", { approvedBy: "bob" })
      .catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(RunClosedError);
    expect(closed).toMatchObject({
      code: "RUN_CLOSED",
      details: { workflowId, status: "completed" },
    });
    await expect(client.cancel(workflowId)).rejects.toMatchObject({ code: "RUN_CLOSED" });
    // A retry of the signal that got through is answered as sent.
    await expect(
      client.signal(workflowId, "approve", { approvedBy: "ada" }, { requestId: first.requestId }),
    ).resolves.toEqual(first);
  });

  it("the client: a signal right after the start, before any decider applied it, is accepted and received", async () => {
    // Topics of their own with no decider yet: the start waits in the log.
    const own = isolatedConfig({ databaseUrl: db.databaseUrl });
    const client = await WeftClient.connect({
      config: own,
      logger,
      transport: weft.transport,
      runCheckWaitMs: 120_000,
    });
    let decider: TestWeft | undefined;
    try {
      const { workflowId } = await client.start(approval, { input: { timeoutMs: 60_000 } });
      let settled = false;
      const sent = client
        .signal(workflowId, "approve", { approvedBy: "early" })
        .finally(() => (settled = true));
      // No decider can have the run yet: the signal waits for one to apply the start.
      expect(await client.getHistory(workflowId)).toEqual([]);
      expect(settled).toBe(false);
      decider = await startTestWeft(own, {
        backends: { transport: weft.transport },
        roles: ["decider"],
        workflows: [approval],
      });
      await expect(sent).resolves.toEqual({ workflowId, requestId: expect.any(String) });
      await expect(client.result(workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        approved: true,
        by: "early",
      });
    } finally {
      await client.close();
      await decider?.stop();
    }
  });
});
