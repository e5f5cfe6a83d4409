/**
 * Run operations without a broker: what a reset start carries and refuses
 * (producers/run-operations.ts), and what a decider records for a reset run and a terminate
 * (deciders/partition-state.ts), through the same small harness the decisions' tests use.
 */
import { createLogger } from "../../core/logger";
import { WeftError } from "../../core/errors";
import { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import {
  derivedRunId,
  failedStepOf,
  latestRun,
  MAX_RESET_RESULT_BYTES,
  resetCommand,
  rerunCommand,
  sourceRun,
} from "../../producers/run-operations";
import type { Command, CommandBody, EventBody, HistoryEvent, ResetFrom } from "../../schemas/types";
import { checkReplay } from "../../workflow/replay-check";
import { transfer, transferSteps } from "../fixtures/transfer";
import { echo, parallel } from "../fixtures/workflows";
import { expectGapless, types } from "../support/history";

const log = createLogger("silent");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return WeftError.is(err) ? err.code : "not a WeftError";
  }
  return undefined;
}

/** A history of one ID from event bodies, seq from 1. */
function historyOf(workflowId: string, bodies: EventBody[]): HistoryEvent[] {
  return bodies.map((body, i) => ({ workflowId, seq: i + 1, at: 1000 + i, body }));
}

const started = (input = "{}"): EventBody => ({
  type: "WorkflowStarted",
  workflowType: "parallel",
  input,
  idempotencyKey: null,
  requestId: "r",
});
const scheduled = (stepSeq: number, stepName = "echo"): EventBody => ({
  type: "StepScheduled",
  stepSeq,
  stepName,
  attempt: 1,
  input: "{}",
  taskQueue: "default",
  timeoutMs: null,
  retryPolicy: "{}",
});
const done = (stepSeq: number, result: string): EventBody => ({
  type: "StepCompleted",
  stepSeq,
  attempt: 1,
  workerId: "w",
  result,
});
const failedRun: EventBody = {
  type: "WorkflowFailed",
  error: { name: "Error", message: "no", stack: null, terminal: true, code: null },
};

describe("reset and re-run starts", () => {
  const failed = historyOf("p-1", [
    started('{"n":1}'),
    scheduled(1),
    scheduled(2),
    scheduled(3),
    done(2, '{"n":2}'),
    done(1, '{"n":1}'),
    failedRun,
  ]);

  it("finds the failed step: the first the run scheduled that never completed", () => {
    expect(failedStepOf(sourceRun("p-1", failed))).toBe(3);
    const allDone = historyOf("p-2", [started(), scheduled(1), done(1, "1"), failedRun]);
    expect(codeOf(() => failedStepOf(sourceRun("p-2", allDone)))).toBe("INVALID_RESET_POINT");
    // A step the code stopped through its scope is not a failure to go back to.
    const scoped = historyOf("p-3", [
      started(),
      scheduled(1),
      { type: "StepCancelled", stepSeq: 1, attempt: 1, reason: "raced" },
      scheduled(2),
      failedRun,
    ]);
    expect(failedStepOf(sourceRun("p-3", scoped))).toBe(2);
  });

  it("carries the completed results before the step, and the source's type and input", () => {
    const command = resetCommand(sourceRun("p-1", failed), 2, { requestId: "op-1" });
    expect(command.body).toMatchObject({
      type: "StartWorkflow",
      workflowType: "parallel",
      input: '{"n":1}',
      idReusePolicy: null,
      requestId: "op-1",
    });
    expect(command.body.reset).toEqual({
      sourceWorkflowId: "p-1",
      sourceRunStartSeq: 1,
      toStepSeq: 2,
      steps: [{ stepSeq: 1, stepName: "echo", result: '{"n":1}' }],
    });
    // The same request ID is the same new run; another is another.
    expect(command.workflowId).toBe(derivedRunId("p-1", "reset", "op-1"));
    expect(resetCommand(sourceRun("p-1", failed), 2, { requestId: "op-1" }).workflowId).toBe(
      command.workflowId,
    );
    expect(rerunCommand(sourceRun("p-1", failed), { requestId: "op-2" }).workflowId).not.toBe(
      command.workflowId,
    );
  });

  it("takes the latest run of an ID, and under the ID itself reuses it after close", () => {
    const twoRuns = historyOf("p-2", [
      started('{"n":1}'),
      failedRun,
      started('{"n":2}'),
      failedRun,
    ]);
    const run = latestRun("p-2", twoRuns)!;
    expect(run).toMatchObject({ startSeq: 3, input: '{"n":2}', status: "failed" });
    const again = rerunCommand(run, { workflowId: "p-2" });
    expect(again.body).toMatchObject({ idReusePolicy: "allowAfterClose", reset: null });
  });

  it("refuses what it cannot do before anything is sent", () => {
    expect(codeOf(() => sourceRun("none", []))).toBe("NOT_FOUND");
    const open = sourceRun("p-3", historyOf("p-3", [started(), scheduled(1)]));
    expect(codeOf(() => resetCommand(open, 1))).toBe("RUN_OPEN");
    expect(codeOf(() => rerunCommand(open, { workflowId: "p-3" }))).toBe("RUN_OPEN");
    expect(codeOf(() => rerunCommand(open))).toBeUndefined();
    expect(codeOf(() => resetCommand(sourceRun("p-1", failed), 4))).toBe("INVALID_RESET_POINT");
    expect(codeOf(() => resetCommand(sourceRun("p-1", failed), 1.5))).toBe("INVALID_RESET_POINT");
    const big = JSON.stringify("x".repeat(MAX_RESET_RESULT_BYTES));
    const large = sourceRun(
      "p-4",
      historyOf("p-4", [started(), scheduled(1), scheduled(2), done(1, big), failedRun]),
    );
    expect(codeOf(() => resetCommand(large, 2))).toBe("INVALID_INPUT");
    expect(codeOf(() => resetCommand(large, 1))).toBeUndefined();
  });

  it("derives a valid ID of at most 200 characters from any source", () => {
    const id = derivedRunId("a".repeat(200), "rerun", "r");
    expect(id.length).toBeLessThanOrEqual(200);
    expect(id).toMatch(/^a+\.rerun-[0-9a-f]{16}$/);
  });
});

function harness(cacheSize?: number) {
  const state = new PartitionState(
    0,
    new Registry([parallel, transfer], [echo, ...transferSteps]),
    log,
    {
      executionCacheSize: cacheSize,
    },
  );
  const history: HistoryEvent[] = [];
  let clock = 1_000;
  const apply = async (workflowId: string, body: CommandBody) => {
    const at = (clock += 10);
    const command: Command = { workflowId, sentAt: at, body };
    await state.apply(command, at);
    const out = state.takeDecisions();
    history.push(...out.events);
    return out;
  };
  return { state, history, apply };
}

const plainStart = (workflowType: string, input: unknown = {}): CommandBody => ({
  type: "StartWorkflow",
  workflowType,
  input: JSON.stringify(input),
  idempotencyKey: null,
  requestId: "r",
});

const resetStart = (reset: ResetFrom): CommandBody => ({
  type: "StartWorkflow",
  workflowType: "parallel",
  input: "{}",
  idempotencyKey: null,
  requestId: "r",
  reset,
});

describe("decisions of a reset run and a terminate", () => {
  it.each([
    ["with the execution cached", undefined],
    ["replaying every event", 0],
  ])("records reused steps as completed at once, without a task (%s)", async (_name, cache) => {
    const h = harness(cache);
    const decided = await h.apply(
      "p-reset",
      resetStart({
        sourceWorkflowId: "p-src",
        sourceRunStartSeq: 1,
        toStepSeq: 2,
        steps: [
          { stepSeq: 1, stepName: "echo", result: '{"n":10}' },
          // A name the code does not ask for there: that step runs for real.
          { stepSeq: 3, stepName: "other", result: '{"n":30}' },
        ],
      }),
    );
    expect(decided.tasks.map((t) => t.task.stepSeq)).toEqual([2, 3]);
    const completedAtOnce = decided.events.filter((e) => e.body.type === "StepCompleted");
    expect(completedAtOnce.map((e) => e.body)).toEqual([
      {
        type: "StepCompleted",
        stepSeq: 1,
        attempt: 1,
        workerId: null,
        result: '{"n":10}',
        reusedFrom: "p-src",
      },
    ]);
    for (const seq of [2, 3])
      await h.apply("p-reset", {
        type: "ReportStepCompleted",
        stepSeq: seq,
        attempt: 1,
        workerId: "w",
        result: JSON.stringify({ n: seq }),
      });
    expect(h.history.at(-1)!.body).toEqual({ type: "WorkflowCompleted", result: "[10,2,3]" });
    expectGapless(h.history);
    expect((await checkReplay(parallel, h.history)).divergence).toBeNull();

    // A restore folds the reset from WorkflowStarted: a reused step is not taken twice.
    const restored = new PartitionState(0, new Registry([parallel], [echo]), log);
    for (const event of h.history.slice(0, 4)) restored.restore(event);
    expect([...(restored.runs.get("p-reset")?.reused?.keys() ?? [])]).toEqual([3]);
  });

  it("terminates a run at once: its code runs no more and its running step gets a notice", async () => {
    const h = harness();
    await h.apply("p-term", plainStart("parallel"));
    const decided = await h.apply("p-term", {
      type: "CancelWorkflow",
      reason: "stuck",
      requestId: "t-1",
      terminate: true,
    });
    expect(types(decided.events)).toEqual(["WorkflowCancelled"]);
    expect(decided.events[0]!.body).toEqual({
      type: "WorkflowCancelled",
      reason: "stuck",
      requestId: "t-1",
      terminated: true,
    });
    expect(decided.cancels.map((c) => [c.cancel.stepSeq, c.cancel.attempt])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(decided.tasks).toEqual([]);
    expect(h.state.runs.has("p-term")).toBe(false);
    // A late report finds the run closed: nothing more is recorded.
    const late = await h.apply("p-term", {
      type: "ReportStepCompleted",
      stepSeq: 1,
      attempt: 1,
      workerId: "w",
      result: "{}",
    });
    expect(late.events).toEqual([]);
  });

  it("terminates a run cleaning up after a cancel: the cleanup step is told to stop", async () => {
    const h = harness();
    const input = { transfer: "t-1", cents: 5, awaitApproval: true };
    await h.apply("t-1", plainStart("transfer", input));
    await h.apply("t-1", {
      type: "ReportStepCompleted",
      stepSeq: 1,
      attempt: 1,
      workerId: "w",
      result: '{"debited":5}',
    });
    const cancelled = await h.apply("t-1", {
      type: "CancelWorkflow",
      reason: "withdrawn",
      requestId: "c-1",
    });
    // The code caught the cancel and runs its refund (inside nonCancellable).
    expect(types(cancelled.events)).toEqual(["WorkflowCancelRequested", "StepScheduled"]);
    const refundSeq = cancelled.tasks[0]!.task.stepSeq;
    const terminated = await h.apply("t-1", {
      type: "CancelWorkflow",
      reason: "refund hangs",
      requestId: "t-1",
      terminate: true,
    });
    expect(terminated.events.map((e) => e.body)).toEqual([
      { type: "WorkflowCancelled", reason: "refund hangs", requestId: "t-1", terminated: true },
    ]);
    expect(terminated.cancels.map((c) => c.cancel.stepSeq)).toEqual([refundSeq]);
  });

  it("terminates a blocked run", async () => {
    const h = harness();
    await h.apply("u-1", plainStart("notHosted"));
    expect(types(h.history)).toEqual(["WorkflowStarted", "WorkflowBlocked"]);
    await h.apply("u-1", { type: "CancelWorkflow", reason: null, requestId: "t", terminate: true });
    expect(h.history.at(-1)!.body).toMatchObject({ type: "WorkflowCancelled", terminated: true });
  });
});
