/**
 * The core scenarios, end to end: decider, worker and client in this process, on topics of
 * their own, on a real Kafka broker and Redis or on the embedded adapters (the embedded log in
 * a fresh directory, leases in memory). Each test file runs them under one configuration.
 */
import { topics, type ConfigInput } from "../../core/config";
import {
  InvalidInputError,
  InvalidWorkflowIdError,
  WorkflowBlockedError,
  WorkflowFailedError,
} from "../../core/errors";
import { deadLetterCodec } from "../../schemas/codec";
import { embeddedBackends } from "../../adapters/embedded-backends";
import { createUserSignupFlow, sendFollowupEmail, sendWelcomeEmail } from "../../examples/signup";
import {
  approval,
  countdown,
  closeFixtures,
  parallel,
  retryExponential,
  retryFixed,
  steps,
  terminalFailure,
  threeSteps,
  timedOut,
} from "../fixtures/workflows";
import { tempDir } from "../embedded/helpers";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import {
  count,
  eventsOf,
  expectEachStepCompletedOnce,
  expectGapless,
  types,
} from "../support/history";
import { startTestWeft, type TestWeft } from "../support/weft";

const signupFlow = createUserSignupFlow({ waitMs: 400, confirmTimeoutMs: 300 });

export type ScenarioTransport = "kafka" | "embedded";

export function coreScenarios(
  overrides: ConfigInput = {},
  transport: ScenarioTransport = "kafka",
): void {
  const config = isolatedConfig(overrides);
  const dir = transport === "embedded" ? tempDir() : undefined;
  let weft: TestWeft;

  beforeAll(async () => {
    const backends = dir
      ? await embeddedBackends({ directory: dir.dir, sync: "never", logger: testLogger(config) })
      : undefined;
    weft = await startTestWeft(config, {
      backends,
      workflows: [
        signupFlow,
        threeSteps,
        retryFixed,
        retryExponential,
        terminalFailure,
        approval,
        parallel,
        timedOut,
        countdown,
      ],
      steps: [...steps, sendWelcomeEmail, sendFollowupEmail],
    });
  });

  afterAll(async () => {
    await weft.stop();
    await closeFixtures();
    dir?.cleanup();
  });

  describe("userSignupFlow", () => {
    it("completes, and its history holds exactly the expected events in order", async () => {
      const { workflowId } = await weft.client.start(signupFlow, {
        input: { email: "ada@example.com" },
      });
      const result = await weft.client.result(workflowId, { timeoutMs: 30_000 });
      expect(result).toEqual({ sent: true, confirmed: false });
      const history = await weft.client.getHistory(workflowId);
      expect(types(history)).toEqual([
        "WorkflowStarted",
        "StepScheduled",
        "StepStarted",
        "StepCompleted",
        "TimerStarted",
        "TimerFired",
        "SignalWaitStarted",
        "SignalWaitTimedOut",
        "StepScheduled",
        "StepStarted",
        "StepCompleted",
        "WorkflowCompleted",
      ]);
      expectGapless(history);
      const [timerStarted] = eventsOf(history, "TimerStarted");
      const [timerFired] = eventsOf(history, "TimerFired");
      expect(timerFired!.at - timerStarted!.at).toBeGreaterThanOrEqual(400);
      const scheduled = eventsOf(history, "StepScheduled");
      expect(scheduled.map((e) => e.body.stepName)).toEqual([
        "sendWelcomeEmail",
        "sendFollowupEmail",
      ]);
      // The worker's start time lies between dispatch and the decider recording it.
      eventsOf(history, "StepStarted").forEach((started, i) => {
        expect(started.body.startedAt).toBeGreaterThanOrEqual(scheduled[i]!.at);
        expect(started.body.startedAt).toBeLessThanOrEqual(started.at);
      });
    });

    it("takes the confirmed branch when the signal arrives", async () => {
      const flow = createUserSignupFlow({ waitMs: 0, confirmTimeoutMs: 20_000 });
      expect(flow.name).toBe(signupFlow.name);
      const { workflowId } = await weft.client.start(signupFlow, {
        input: { email: "bob@example.com" },
      });
      await waitFor("the signal wait", async () =>
        types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
      );
      // The timeout is 300 ms; a signal sent before it is the answer, after it is buffered.
      const history = await weft.client.getHistory(workflowId);
      expect(history.length).toBeGreaterThan(0);
      await weft.client.result(workflowId, { timeoutMs: 30_000 });
    });
  });

  describe("retries", () => {
    it("retries with the configured fixed delay, then completes", async () => {
      const { workflowId } = await weft.client.start(retryFixed);
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ attempt: 3 });
      const history = await weft.client.getHistory(workflowId);
      const failed = eventsOf(history, "StepFailed");
      const retries = eventsOf(history, "StepRetryScheduled");
      expect(failed.map((e) => [e.body.attempt, e.body.willRetry])).toEqual([
        [1, true],
        [2, true],
      ]);
      expect(retries.map((e) => e.body.delayMs)).toEqual([300, 300]);
      const scheduled = eventsOf(history, "StepScheduled");
      expect(scheduled.map((e) => e.body.attempt)).toEqual([1, 2, 3]);
      // Each retry was dispatched no earlier than its delay after the failure.
      for (let i = 0; i < 2; i++) {
        expect(scheduled[i + 1]!.at - failed[i]!.at).toBeGreaterThanOrEqual(300);
      }
      expect(count(history, "StepCompleted")).toBe(1);
      expectGapless(history);
    });

    it("retries with exponential backoff", async () => {
      const { workflowId } = await weft.client.start(retryExponential);
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ attempt: 3 });
      const history = await weft.client.getHistory(workflowId);
      expect(eventsOf(history, "StepRetryScheduled").map((e) => e.body.delayMs)).toEqual([
        200, 600,
      ]);
      const failed = eventsOf(history, "StepFailed");
      const scheduled = eventsOf(history, "StepScheduled");
      expect(scheduled[1]!.at - failed[0]!.at).toBeGreaterThanOrEqual(200);
      expect(scheduled[2]!.at - failed[1]!.at).toBeGreaterThanOrEqual(600);
    });

    it("fails the run at once on a terminal error", async () => {
      const { workflowId } = await weft.client.start(terminalFailure);
      const error = await weft.client
        .result(workflowId, { timeoutMs: 30_000 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as Error).message).toContain("the card was declined");
      const history = await weft.client.getHistory(workflowId);
      expect(
        eventsOf(history, "StepFailed").map((e) => [
          e.body.attempt,
          e.body.willRetry,
          e.body.error.terminal,
        ]),
      ).toEqual([[1, false, true]]);
      expect(count(history, "StepRetryScheduled")).toBe(0);
      expect(types(history).at(-1)).toBe("WorkflowFailed");
    });

    it("fails an attempt that outlives its timeout and ignores its late result", async () => {
      const { workflowId } = await weft.client.start(timedOut);
      await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowFailedError,
      );
      const history = await weft.client.getHistory(workflowId);
      const failed = eventsOf(history, "StepFailed");
      expect(failed.map((e) => e.body.error.code)).toEqual(["STEP_TIMEOUT", "STEP_TIMEOUT"]);
      expect(count(history, "StepCompleted")).toBe(0);
    });
  });

  describe("signals", () => {
    it("resolves waitForSignal with the payload", async () => {
      const { workflowId } = await weft.client.start(approval, { input: { timeoutMs: 60_000 } });
      await waitFor("the signal wait", async () =>
        types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
      );
      await weft.client.signal(workflowId, "approve", { approvedBy: "grace" });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({
        approved: true,
        by: "grace",
      });
    });

    it("runs the timeout branch when no signal comes", async () => {
      const { workflowId } = await weft.client.start(approval, { input: { timeoutMs: 300 } });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({
        approved: false,
      });
      const history = await weft.client.getHistory(workflowId);
      expect(types(history)).toEqual([
        "WorkflowStarted",
        "SignalWaitStarted",
        "SignalWaitTimedOut",
        "WorkflowCompleted",
      ]);
    });

    it("delivers a signal sent before the wait began", async () => {
      const { workflowId } = await weft.client.start(approval, { input: { timeoutMs: 60_000 } });
      await weft.client.signal(workflowId, "approve", { approvedBy: "early" });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({
        approved: true,
        by: "early",
      });
    });
  });

  describe("parallel steps", () => {
    it("runs Promise.all branches and keeps their order", async () => {
      const { workflowId } = await weft.client.start(parallel);
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual([1, 2, 3]);
      const history = await weft.client.getHistory(workflowId);
      expect(count(history, "StepCompleted")).toBe(3);
      expectEachStepCompletedOnce(history);
    });
  });

  /** The result of the run a start made (or joined). */
  const resultOf = <T = unknown>(started: { workflowId: string; requestId: string }) =>
    weft.client.result<T>(started.workflowId, {
      startRequestId: started.requestId,
      timeoutMs: 30_000,
    });

  describe("continue as new", () => {
    it("chains runs under one workflow ID in one gapless history; result waits for the last", async () => {
      const { workflowId } = await weft.client.start(countdown, { input: { n: 3 } });
      const result = await weft.client.result<{
        total: number;
        uuids: string[];
        startSeqs: number[];
        suggested: boolean;
      }>(workflowId, { timeoutMs: 30_000 });
      const history = await weft.client.getHistory(workflowId);
      expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
      const starts = eventsOf(history, "WorkflowStarted");
      expect(starts).toHaveLength(4);
      expect(count(history, "WorkflowContinuedAsNew")).toBe(3);
      expect(count(history, "WorkflowCompleted")).toBe(1);
      // Each run saw where it starts in the shared history, and drew its own UUIDs.
      expect(result.total).toBe(6);
      expect(result.startSeqs).toEqual(starts.map((e) => e.seq));
      expect(new Set(result.uuids).size).toBe(4);
      // A WorkflowContinuedAsNew is followed at once by the next run's start, with its input.
      for (const closing of eventsOf(history, "WorkflowContinuedAsNew")) {
        const next = history[closing.seq]!;
        expect(next.body).toMatchObject({ type: "WorkflowStarted", input: closing.body.input });
      }
      // Step numbers never repeat across the runs (a late report cannot hit a later run).
      const stepSeqs = eventsOf(history, "StepScheduled").map((e) => e.body.stepSeq);
      expect(new Set(stepSeqs).size).toBe(4);
      // The last run's history is 4 events long when it returns: past continueAsNewAfter 4.
      expect(result.suggested).toBe(true);
      expectEachStepCompletedOnce(history);
    });
  });

  describe("idempotent start", () => {
    it("makes one run for two starts with the same workflow ID", async () => {
      const workflowId = `dup-${Date.now()}`;
      await weft.client.start(threeSteps, { workflowId, input: { n: 0 } });
      await weft.client.start(threeSteps, { workflowId, input: { n: 100 } });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ n: 3 });
      const history = await weft.client.getHistory(workflowId);
      expect(count(history, "WorkflowStarted")).toBe(1);
      expect(count(history, "WorkflowCompleted")).toBe(1);
    });

    it("keeps a closed run's ID for that run by default, and hands it to a new run when the policy allows", async () => {
      const workflowId = `reuse-${Date.now()}`;
      const first = await weft.client.start(threeSteps, { workflowId, input: { n: 0 } });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ n: 3 });

      // rejectDuplicate (the default): the start is the closed run's duplicate.
      const again = await weft.client.start(threeSteps, { workflowId, input: { n: 100 } });
      expect(await resultOf(again)).toEqual({ n: 3 });
      // allowAfterFailure: the run completed, so still a duplicate.
      const afterFailure = await weft.client.start(threeSteps, {
        workflowId,
        input: { n: 200 },
        idReusePolicy: "allowAfterFailure",
      });
      expect(await resultOf(afterFailure)).toEqual({ n: 3 });

      // allowAfterClose: a new run under the ID, its history after the first run's.
      const reused = await weft.client.start(threeSteps, {
        workflowId,
        input: { n: 10 },
        idReusePolicy: "allowAfterClose",
      });
      expect(await resultOf(reused)).toEqual({ n: 13 });
      const history = await weft.client.getHistory(workflowId);
      expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
      const starts = eventsOf(history, "WorkflowStarted");
      expect(starts.map((e) => e.body.requestId)).toEqual([first.requestId, reused.requestId]);
      expect(count(history, "WorkflowCompleted")).toBe(2);
      const stepSeqs = eventsOf(history, "StepScheduled").map((e) => e.body.stepSeq);
      expect(new Set(stepSeqs).size).toBe(6);
      // Without a request ID, result waits for the ID's last run.
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ n: 13 });
    });

    it("hands a failed run's ID to a new run with allowAfterFailure, and never an open run's", async () => {
      const failedId = `reuse-failed-${Date.now()}`;
      await weft.client.start(terminalFailure, { workflowId: failedId });
      await expect(weft.client.result(failedId, { timeoutMs: 30_000 })).rejects.toThrow();
      const retried = await weft.client.start(threeSteps, {
        workflowId: failedId,
        input: { n: 1 },
        idReusePolicy: "allowAfterFailure",
      });
      expect(await resultOf(retried)).toEqual({ n: 4 });

      // An open run takes any start with its ID as a duplicate, whatever the policy.
      const openId = `reuse-open-${Date.now()}`;
      await weft.client.start(approval, { workflowId: openId, input: { timeoutMs: 60_000 } });
      const joined = await weft.client.start(approval, {
        workflowId: openId,
        input: { timeoutMs: 1 },
        idReusePolicy: "allowAfterClose",
      });
      const result = resultOf(joined);
      await weft.client.signal(openId, "approve", { approvedBy: "ada" });
      expect(await result).toEqual({ approved: true, by: "ada" });
      expect(count(await weft.client.getHistory(openId), "WorkflowStarted")).toBe(1);
    });

    it("makes one run for two starts with the same idempotency key", async () => {
      const key = `order-${Date.now()}`;
      const first = await weft.client.start(threeSteps, { idempotencyKey: key, input: { n: 10 } });
      const second = await weft.client.start(threeSteps, { idempotencyKey: key, input: { n: 20 } });
      expect(second.workflowId).toBe(first.workflowId);
      expect(await weft.client.result(first.workflowId, { timeoutMs: 30_000 })).toEqual({ n: 13 });
      const history = await weft.client.getHistory(first.workflowId);
      expect(count(history, "WorkflowStarted")).toBe(1);
      expect(eventsOf(history, "WorkflowStarted")[0]!.body.idempotencyKey).toBe(key);
    });
  });

  describe("bad input", () => {
    it("refuses input that is not JSON-serialisable, before anything is sent", async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expect(weft.client.start("threeSteps", { input: circular })).rejects.toBeInstanceOf(
        InvalidInputError,
      );
      await expect(weft.client.start("threeSteps", { input: { n: 10n } })).rejects.toThrow(
        /not JSON-serialisable: BigInt/,
      );
      await expect(
        weft.client.start(threeSteps, { workflowId: "no spaces allowed" }),
      ).rejects.toBeInstanceOf(InvalidWorkflowIdError);
    });

    it("parks a run of an unknown workflow type with a clear reason", async () => {
      const { workflowId } = await weft.client.start("noSuchWorkflow", { input: {} });
      const error = await weft.client
        .result(workflowId, { timeoutMs: 30_000 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowBlockedError);
      expect((error as WorkflowBlockedError).details.blockedCode).toBe("UNKNOWN_WORKFLOW_TYPE");
      expect((error as Error).message).toContain('no workflow type "noSuchWorkflow"');
    });

    it("sends an undecodable command to the DLQ with the reason and keeps deciding", async () => {
      const kafka = weft.transport;
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: topics.commands(config),
        messages: [
          {
            key: "poison-1",
            value: Buffer.from("definitely not avro"),
            headers: { "weft-schema": "weft.commands.Command", "weft-schema-version": "1" },
          },
          { key: "poison-2", value: Buffer.from("{}") },
        ],
      });
      await producer.disconnect();

      const dead: { key: string; reason: string }[] = [];
      const consumer = kafka.consumer({ groupId: `${config.topicPrefix}.dlq-check` });
      await consumer.connect();
      await consumer.subscribe({ topic: topics.dlq(config), fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const letter = deadLetterCodec.decode(message.value, message.headers);
            dead.push({ key: letter.key?.toString() ?? "", reason: letter.reason });
          }
          await Promise.resolve();
        },
      });
      await waitFor("two dead letters", () => dead.length >= 2);
      await consumer.disconnect();
      expect(dead.map((d) => d.key).sort()).toEqual(["poison-1", "poison-2"]);
      expect(dead.find((d) => d.key === "poison-1")!.reason).toMatch(
        /not a valid weft.commands.Command/,
      );
      expect(dead.find((d) => d.key === "poison-2")!.reason).toMatch(/record names none/);

      const { workflowId } = await weft.client.start(threeSteps, { input: { n: 1 } });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ n: 4 });
    });
  });
}
