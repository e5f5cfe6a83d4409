/**
 * The projector end to end: runs on a real Kafka broker (topics of their own) projected into
 * read models on PostgreSQL (a schema of their own) and on SQLite (a file of their own). The
 * read models must match history exactly, and a replay from offset 0 must give the same rows.
 */
import { isDeepStrictEqual } from "node:util";
import { Partitioners } from "kafkajs";
import { topics, type WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { migrate } from "../../projections/migrate";
import { Projector, type CommittedChanges } from "../../projections/projector";
import type { ReadModelDb } from "../../projections/read-model-db";
import { replayProjections } from "../../projections/replay";
import { findRun, findRuns } from "../../graphql/run-queries";
import { deadLetterCodec, historyCodec } from "../../schemas/codec";
import type { HistoryEvent } from "../../schemas/types";
import {
  approval,
  closeFixtures,
  countdown,
  parallel,
  retryFixed,
  sleepy,
  steps,
  terminalFailure,
  threeSteps,
  timedOut,
} from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { eventsOf, types } from "../support/history";
import {
  createTestDatabase,
  readModelChecksums,
  TEST_DIALECTS,
  type TestDatabase,
} from "../support/read-models";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

describe.each(TEST_DIALECTS)("the projector on %s", (dialect) => {
  let db: TestDatabase;
  let config: WeftConfig;
  let logger: Logger;
  let weft: TestWeft;
  let pool: ReadModelDb;
  let projector: Projector;
  const committed: CommittedChanges[] = [];

  function startProjector(): Promise<Projector> {
    const p = new Projector({
      config,
      kafka: kafkaFor(config),
      db: pool,
      logger,
      onCommitted: (changes) => void committed.push(changes),
      rewindCheckMs: 200,
    });
    return p.start().then(() => p);
  }

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    // One registration beat (at start) while the tests run, so the replay test's checksums
    // cover the registration tables without new beats landing in between.
    config = isolatedConfig({ databaseUrl: db.databaseUrl, registrationIntervalMs: 3_600_000 });
    logger = testLogger(config);
    weft = await startTestWeft(config, {
      workflows: [
        threeSteps,
        retryFixed,
        approval,
        sleepy,
        parallel,
        timedOut,
        terminalFailure,
        countdown,
      ],
      steps,
    });
    pool = db.db;
    await migrate(pool);
    projector = await startProjector();
  });

  afterAll(async () => {
    await projector?.stop();
    await weft?.stop();
    await closeFixtures();
    await db?.drop();
  });

  /** Waits until every given run's projected last_seq is its history length; returns histories. */
  async function waitProjected(
    workflowIds: readonly string[],
  ): Promise<Map<string, HistoryEvent[]>> {
    const histories = new Map<string, HistoryEvent[]>();
    for (const id of workflowIds) histories.set(id, await weft.client.getHistory(id));
    await waitFor("the projector to catch up", async () => {
      const rows = await pool.db
        .selectFrom("weft_runs")
        .select(["workflow_id", "last_seq"])
        .where("workflow_id", "in", [...workflowIds])
        .execute();
      const projected = new Map(rows.map((r) => [r.workflow_id, r.last_seq]));
      return workflowIds.every((id) => projected.get(id) === histories.get(id)!.length);
    });
    return histories;
  }

  async function settle(workflowId: string): Promise<void> {
    await weft.client.result(workflowId, { timeoutMs: 30_000 }).catch(() => undefined);
  }

  const date = (ms: number) => new Date(ms);

  interface AttemptRow {
    step_seq: number;
    attempt: number;
    step_name: string;
    status: string;
    has_worker: boolean;
    duration_ms: string | number | null;
    error_code: string | null;
    result: unknown;
  }

  interface TimerRow {
    kind: string;
    seq: number;
    attempt: number;
    status: string;
    due_at: Date;
    fired_at: Date | null;
  }

  it("projects runs exactly as history records them", async () => {
    const started = await Promise.all([
      weft.client.start(threeSteps, { input: { n: 1 }, workflowId: "three" }),
      weft.client.start(retryFixed, { workflowId: "retry" }),
      weft.client.start(sleepy, { input: { ms: 300 }, workflowId: "sleepy" }),
      weft.client.start(approval, { input: { timeoutMs: 300 }, workflowId: "unanswered" }),
      weft.client.start(approval, { input: { timeoutMs: 60_000 }, workflowId: "answered" }),
      weft.client.start(parallel, { workflowId: "parallel" }),
      weft.client.start(timedOut, { workflowId: "timed-out" }),
      weft.client.start(terminalFailure, { workflowId: "terminal" }),
    ]);
    await waitFor("the signal wait", async () =>
      types(await weft.client.getHistory("answered")).includes("SignalWaitStarted"),
    );
    await weft.client.signal("answered", "approve", { approvedBy: "ada" });
    const ids = started.map((s) => s.workflowId);
    await Promise.all(ids.map(settle));
    const histories = await waitProjected(ids);

    // weft_events is the history, event for event.
    for (const [id, history] of histories) {
      const rows = await pool.db
        .selectFrom("weft_events")
        .select(["seq", "type", "at", "body"])
        .where("workflow_id", "=", id)
        .orderBy("seq")
        .execute();
      expect(rows).toEqual(
        history.map((e) => ({ seq: e.seq, type: e.body.type, at: date(e.at), body: e.body })),
      );
    }

    const runs = new Map(
      (await findRuns(pool, ids)).map((r) => [
        r.workflow_id,
        r as typeof r & { error: { message: string } | null },
      ]),
    );
    for (const [id, history] of histories) {
      const last = history.at(-1)!;
      expect(runs.get(id)).toMatchObject({
        workflow_type: (history[0]!.body as { workflowType: string }).workflowType,
        started_at: date(history[0]!.at),
        closed_at: date(last.at),
        updated_at: date(last.at),
        last_seq: history.length,
        waiting_on: [],
        blocked_code: null,
      });
    }
    expect(runs.get("three")).toMatchObject({
      status: "completed",
      input: { n: 1 },
      result: { n: 4 },
    });
    expect(runs.get("answered")).toMatchObject({ result: { approved: true, by: "ada" } });
    expect(runs.get("timed-out")).toMatchObject({
      status: "failed",
      result: null,
      error: expect.objectContaining({ name: "StepFailedError", code: "STEP_FAILED" }),
    });
    expect(runs.get("terminal")!.error!.message).toContain("the card was declined");

    // Step attempts, retries included.
    const attempts = async (id: string): Promise<AttemptRow[]> =>
      (
        await pool.db
          .selectFrom("weft_step_attempts")
          .selectAll()
          .where("workflow_id", "=", id)
          .orderBy("step_seq")
          .orderBy("attempt")
          .execute()
      ).map((a) => ({
        step_seq: a.step_seq,
        attempt: a.attempt,
        step_name: a.step_name,
        status: a.status,
        has_worker: a.worker_id !== null,
        duration_ms: a.duration_ms,
        error_code: (a.error as { code?: string } | null)?.code ?? null,
        result: a.result,
      }));
    const retry = await attempts("retry");
    expect(retry.map((a) => [a.step_seq, a.attempt, a.step_name, a.status, a.has_worker])).toEqual([
      [1, 1, "flaky", "failed", true],
      [1, 2, "flaky", "failed", true],
      [1, 3, "flaky", "completed", true],
    ]);
    expect(retry[2]!.result).toEqual({ attempt: 3 });
    // bigint: text from pg, a number from SQLite.
    for (const a of retry) {
      expect(a.duration_ms).toEqual(
        dialect === "postgres" ? expect.any(String) : expect.any(Number),
      );
    }
    expect((await attempts("timed-out")).map((a) => [a.attempt, a.status, a.error_code])).toEqual([
      [1, "timed_out", "STEP_TIMEOUT"],
      [2, "timed_out", "STEP_TIMEOUT"],
    ]);
    expect((await attempts("parallel")).map((a) => a.status)).toEqual([
      "completed",
      "completed",
      "completed",
    ]);

    // Timers: what fired, when it was due, and what was cancelled.
    const timers = async (id: string) =>
      (await pool.db
        .selectFrom("weft_timers")
        .select(["kind", "seq", "attempt", "status", "due_at", "fired_at"])
        .where("workflow_id", "=", id)
        .orderBy("kind")
        .orderBy("seq")
        .orderBy("attempt")
        .execute()) as TimerRow[];
    const retryHistory = histories.get("retry")!;
    expect(await timers("retry")).toEqual(
      eventsOf(retryHistory, "StepRetryScheduled").map((e) => ({
        kind: "retry",
        seq: e.body.stepSeq,
        attempt: e.body.nextAttempt,
        status: "fired",
        due_at: date(e.body.dueAt),
        fired_at: date(
          retryHistory.find(
            (s) => s.body.type === "StepScheduled" && s.body.attempt === e.body.nextAttempt,
          )!.at,
        ),
      })),
    );
    const [sleep] = await timers("sleepy");
    const timerStarted = eventsOf(histories.get("sleepy")!, "TimerStarted")[0]!;
    const timerFired = eventsOf(histories.get("sleepy")!, "TimerFired")[0]!;
    expect(sleep).toEqual({
      kind: "sleep",
      seq: timerStarted.body.timerSeq,
      attempt: 0,
      status: "fired",
      due_at: date(timerStarted.body.dueAt),
      fired_at: date(timerFired.at),
    });
    expect((await timers("unanswered")).map((t) => [t.kind, t.status])).toEqual([
      ["signal_timeout", "fired"],
    ]);
    expect((await timers("answered")).map((t) => [t.kind, t.status, t.fired_at])).toEqual([
      ["signal_timeout", "cancelled", null],
    ]);
    // A step timeout fires when the decider notices first; a worker that aborts the attempt at
    // its deadline reports it first (with its ID), and the durable timer is then cancelled.
    const timedOutHistory = histories.get("timed-out")!;
    expect((await timers("timed-out")).map((t) => [t.kind, t.attempt, t.status]).sort()).toEqual([
      ["retry", 2, "fired"],
      ...eventsOf(timedOutHistory, "StepFailed").map((e) => [
        "step_timeout",
        e.body.attempt,
        e.body.workerId === null ? "fired" : "cancelled",
      ]),
    ]);

    // Signals, with the wait that took each.
    const signal = eventsOf(histories.get("answered")!, "SignalReceived")[0]!;
    expect(
      await pool.db
        .selectFrom("weft_signals")
        .selectAll()
        .where("workflow_id", "=", "answered")
        .execute(),
    ).toEqual([
      {
        workflow_id: "answered",
        seq: signal.seq,
        name: "approve",
        payload: { approvedBy: "ada" },
        request_id: signal.body.requestId,
        received_at: date(signal.at),
        wait_seq: 1,
      },
    ]);

    // The hook heard of every run, after commit.
    const heard = new Set(committed.flatMap((c) => c.workflowIds));
    for (const id of ids) expect(heard).toContain(id);
    const heardEvents = committed.flatMap((c) => c.events).filter((e) => e.workflowId === "three");
    expect(heardEvents).toEqual(histories.get("three"));
  });

  it("hands a workflow ID's row to each later run: continued as new, or started again under a closed ID", async () => {
    const chained = await weft.client.start(countdown, { input: { n: 2 } });
    const reusedId = `reused-${Date.now()}`;
    await weft.client.start(threeSteps, { workflowId: reusedId, input: { n: 0 } });
    await settle(reusedId);
    const again = await weft.client.start(threeSteps, {
      workflowId: reusedId,
      input: { n: 10 },
      idReusePolicy: "allowAfterClose",
    });
    await weft.client.result(reusedId, { startRequestId: again.requestId, timeoutMs: 30_000 });
    await settle(chained.workflowId);
    const histories = await waitProjected([chained.workflowId, reusedId]);
    for (const [id, history] of histories) {
      const starts = eventsOf(history, "WorkflowStarted");
      const last = starts.at(-1)!;
      const row = await pool.db
        .selectFrom("weft_runs")
        .select(["status", "input", "run_number", "run_start_seq", "last_seq", "result"])
        .where("workflow_id", "=", id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        status: "completed",
        input: JSON.parse(last.body.input) as unknown,
        run_number: starts.length,
        run_start_seq: last.seq,
        last_seq: history.length,
      });
      // Every run's events and step attempts stay: one row each, none overwritten.
      const events = await pool.db
        .selectFrom("weft_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("workflow_id", "=", id)
        .executeTakeFirstOrThrow();
      expect(Number(events.n)).toBe(history.length);
      const attempts = await pool.db
        .selectFrom("weft_step_attempts")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("workflow_id", "=", id)
        .executeTakeFirstOrThrow();
      expect(Number(attempts.n)).toBe(eventsOf(history, "StepScheduled").length);
    }
    expect(eventsOf(histories.get(chained.workflowId)!, "WorkflowStarted")).toHaveLength(3);
    expect(eventsOf(histories.get(reusedId)!, "WorkflowStarted")).toHaveLength(2);
  });

  it("shows what an open run waits on now, a blocked run, and a cancelled one", async () => {
    await weft.client.start(approval, { input: { timeoutMs: 60_000 }, workflowId: "waiting" });
    await weft.client.start("noSuchWorkflow", { workflowId: "blocked" });
    await waitFor("the signal wait", async () =>
      types(await weft.client.getHistory("waiting")).includes("SignalWaitStarted"),
    );
    await settle("blocked");
    const histories = await waitProjected(["waiting", "blocked"]);
    const wait = eventsOf(histories.get("waiting")!, "SignalWaitStarted")[0]!;
    const row = (id: string) => findRun(pool, id);
    expect(await row("waiting")).toMatchObject({
      status: "running",
      closed_at: null,
      waiting_on: [
        {
          kind: "signal",
          waitSeq: 1,
          signalName: "approve",
          since: date(wait.at).toISOString(),
          dueAt: date(wait.body.dueAt!).toISOString(),
        },
      ],
    });
    expect(
      await pool.db
        .selectFrom("weft_timers")
        .select("seq")
        .where("workflow_id", "=", "waiting")
        .where("status", "=", "pending")
        .execute(),
    ).toHaveLength(1);
    expect(await row("blocked")).toMatchObject({
      status: "blocked",
      blocked_code: "UNKNOWN_WORKFLOW_TYPE",
      blocked_reason: expect.stringContaining("noSuchWorkflow"),
    });

    await weft.client.cancel("waiting", "no longer needed");
    await settle("waiting");
    await waitProjected(["waiting"]);
    expect(await row("waiting")).toMatchObject({
      status: "cancelled",
      waiting_on: [],
      error: { code: "WORKFLOW_CANCELLED", reason: "no longer needed" },
    });
    expect(
      await pool.db
        .selectFrom("weft_timers")
        .select("status")
        .where("workflow_id", "=", "waiting")
        .execute(),
    ).toEqual([{ status: "cancelled" }]);
  });

  it("sends undecodable and unprojectable history records to the DLQ and carries on", async () => {
    const kafka = kafkaFor(config);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const event = (workflowId: string, at: number): HistoryEvent => ({
      workflowId,
      seq: 1,
      at,
      body: {
        type: "WorkflowStarted",
        workflowType: "x",
        input: "{}",
        idempotencyKey: null,
        requestId: null,
      },
    });
    const encoded = (e: HistoryEvent) => ({
      key: e.workflowId,
      partition: 0,
      value: historyCodec.encode(e),
      headers: { ...historyCodec.headers },
    });
    await producer.send({
      topic: topics.history(config),
      messages: [
        {
          key: "poison",
          partition: 0,
          value: Buffer.from("not avro"),
          headers: { "weft-schema": "x" },
        },
        // Decodes, but its time is past what a timestamp holds: the batch fails as a whole, then
        // record by record, and this one goes to the DLQ.
        encoded(event("bad-time", 9e15)),
        encoded(event("after-poison", Date.now())),
      ],
    });
    await producer.disconnect();

    const dead: { consumer: string; reason: string }[] = [];
    const consumer = kafka.consumer({ groupId: `${config.topicPrefix}.dlq-check` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq(config), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        dead.push(deadLetterCodec.decode(message.value, message.headers));
        await Promise.resolve();
      },
    });
    const reasons = () => dead.filter((d) => d.consumer === projector.groupId).map((d) => d.reason);
    try {
      await waitFor("the dead letters", () => new Set(reasons()).size >= 2);
    } finally {
      await consumer.disconnect();
    }
    expect([...new Set(reasons())].sort()).toEqual([
      "could not project: event time 9000000000000000 is not a valid time",
      // Every history schema version is named, whichever is the latest.
      expect.stringMatching(
        /^expected schema weft\.events\.HistoryEvent v1(\/v\d+)+, record names x vnone$/,
      ),
    ]);
    const projected = async () =>
      await pool.db
        .selectFrom("weft_runs")
        .select("workflow_id")
        .where("workflow_id", "in", ["bad-time", "after-poison"])
        .execute();
    await waitFor("the record after them", async () => (await projected()).length > 0);
    expect(await projected()).toEqual([{ workflow_id: "after-poison" }]);
    const { workflowId } = await weft.client.start(threeSteps, { input: { n: 10 } });
    await settle(workflowId);
    await waitProjected([workflowId]);
  });

  it("keeps a payload already in the log that no store could take as a marker, and carries on", async () => {
    const kafka = kafkaFor(config);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    let deep = "1";
    for (let i = 0; i < 1000; i++) deep = `{"a":${deep}}`;
    const started = (workflowId: string, input: string): HistoryEvent => ({
      workflowId,
      seq: 1,
      at: Date.now(),
      body: {
        type: "WorkflowStarted",
        workflowType: "x",
        input,
        idempotencyKey: null,
        requestId: null,
      },
    });
    await producer.send({
      topic: topics.history(config),
      messages: [started("too-deep", deep), started("after-too-deep", '{"fine":true}')].map(
        (e) => ({
          key: e.workflowId,
          partition: 1,
          value: historyCodec.encode(e),
          headers: { ...historyCodec.headers },
        }),
      ),
    });
    await producer.disconnect();
    const rows = async () =>
      await pool.db
        .selectFrom("weft_runs")
        .select(["workflow_id", "input"])
        .where("workflow_id", "in", ["too-deep", "after-too-deep"])
        .orderBy("workflow_id")
        .execute();
    await waitFor("both runs projected", async () => (await rows()).length === 2);
    const [after, tooDeep] = await rows();
    expect(after!.input).toEqual({ fine: true });
    expect(tooDeep!.input).toEqual({
      weftNotStored: "the value nests deeper than 64 levels",
      bytes: Buffer.byteLength(deep),
    });
  });

  it("gives identical tables after replay projections, with the projector running or not", async () => {
    const before = await readModelChecksums(pool);
    expect(before.weft_events!.rows).toBeGreaterThan(50);

    // Running: it notices its offsets went back to 0 and projects everything again.
    await replayProjections(config, { pool, logger });
    await waitFor("the rebuild", async () =>
      isDeepStrictEqual(await readModelChecksums(pool), before),
    );

    // Stopped: a projector started afterwards rebuilds from offset 0.
    await projector.stop();
    await replayProjections(config, { pool, logger });
    expect((await readModelChecksums(pool)).weft_runs!.rows).toBe(0);
    projector = await startProjector();
    await waitFor("the rebuild", async () =>
      isDeepStrictEqual(await readModelChecksums(pool), before),
    );
    expect(await readModelChecksums(pool)).toEqual(before);
  });
});
