/**
 * Timeouts and versioning, the same on every transport: a run past its execution timeout
 * fails with WORKFLOW_TIMEOUT; a step attempt that stops heartbeating is retried, and the
 * retry reads the details it last heartbeated; a step no worker starts in time fails with
 * STEP_SCHEDULE_TO_START_TIMEOUT after its retries; a run recorded before `ctx.patched` was
 * added replays its old branch under the new code while a new run takes the new branch.
 * Every history then replays through the code (checkReplay).
 */
import { WorkflowFailedError } from "../../core/errors";
import type { WeftClient } from "../../sdk/client";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../../workflow/definitions";
import { checkReplay } from "../../workflow/replay-check";
import {
  feeV1,
  feeV2,
  overdue,
  resumableFlow,
  timeoutSteps,
  timeoutWorkflows,
  unstartedFlow,
} from "../fixtures/timeouts";
import { waitFor } from "../support/env";
import { eventsOf, expectGapless, types } from "../support/history";

/**
 * A Weft hosting these workflows and steps on the transport under test; each call after the
 * first opens the same topics (or log) again, as a restarted deployment would.
 */
export type OpenWeft = (
  workflows: readonly AnyWorkflowDefinition[],
  steps: readonly AnyStepDefinition[],
) => Promise<{ client: WeftClient; stop(): Promise<void> }>;

export function timeoutsScenario(name: string, open: OpenWeft): void {
  it("fails a run still open at its execution timeout with WORKFLOW_TIMEOUT", async () => {
    const weft = await open(timeoutWorkflows, timeoutSteps);
    try {
      const { workflowId } = await weft.client.start(overdue, { input: {} });
      const error = await weft.client.result(workflowId, { timeoutMs: 30_000 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).details.errorCode).toBe("WORKFLOW_TIMEOUT");
      const history = await weft.client.getHistory(workflowId);
      expect(types(history)).toEqual(["WorkflowStarted", "TimerStarted", "WorkflowFailed"]);
      const [started] = eventsOf(history, "WorkflowStarted");
      const [failed] = eventsOf(history, "WorkflowFailed");
      expect(started!.body.executionDeadline).toBe(started!.at + 500);
      // Never before its deadline (the sleep was an hour).
      expect(failed!.at).toBeGreaterThanOrEqual(started!.body.executionDeadline!);
      expect((await checkReplay(overdue, history)).ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });

  it("retries an attempt that stopped heartbeating, and the retry resumes from its last details", async () => {
    const weft = await open(timeoutWorkflows, timeoutSteps);
    try {
      const { workflowId } = await weft.client.start(resumableFlow, {
        input: { key: `${name}-resume`, pages: 5 },
      });
      const result = await weft.client.result<{ resumedFrom: number; attempt: number }>(
        workflowId,
        { timeoutMs: 30_000 },
      );
      expect(result).toMatchObject({ resumedFrom: 2, attempt: 2 });
      const history = await weft.client.getHistory(workflowId);
      expectGapless(history);
      expect(eventsOf(history, "StepHeartbeatRecorded").map((e) => e.body)).toEqual([
        { type: "StepHeartbeatRecorded", stepSeq: 1, attempt: 1, details: '{"page":2}' },
      ]);
      const [failed] = eventsOf(history, "StepFailed");
      expect(failed!.body).toMatchObject({
        attempt: 1,
        willRetry: true,
        error: { code: "STEP_HEARTBEAT_TIMEOUT" },
      });
      expect(eventsOf(history, "StepCompleted").map((e) => e.body.attempt)).toEqual([2]);
      expect((await checkReplay(resumableFlow, history)).ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });

  it("fails a step no worker starts in time with STEP_SCHEDULE_TO_START_TIMEOUT, after its retries", async () => {
    const weft = await open(timeoutWorkflows, timeoutSteps);
    try {
      const { workflowId } = await weft.client.start(unstartedFlow, { input: {} });
      const result = await weft.client.result(workflowId, { timeoutMs: 30_000 });
      expect(result).toEqual({
        failed: true,
        attempts: 2,
        code: "STEP_SCHEDULE_TO_START_TIMEOUT",
      });
      const history = await weft.client.getHistory(workflowId);
      expect(eventsOf(history, "StepStarted")).toHaveLength(0);
      const failures = eventsOf(history, "StepFailed").map((e) => e.body);
      expect(failures).toMatchObject([
        { attempt: 1, willRetry: true, workerId: null },
        { attempt: 2, willRetry: false, workerId: null },
      ]);
      // Each attempt failed no sooner than its limit after it was scheduled.
      const scheduled = eventsOf(history, "StepScheduled");
      const failedAt = eventsOf(history, "StepFailed").map((e) => e.at);
      scheduled.forEach((s, i) => expect(failedAt[i]! - s.at).toBeGreaterThanOrEqual(300));
      expect((await checkReplay(unstartedFlow, history)).ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });

  it("replays a run recorded before ctx.patched on its old branch, while a new run takes the new one", async () => {
    const before = await open([feeV1], timeoutSteps);
    let oldRun: string;
    try {
      ({ workflowId: oldRun } = await before.client.start(feeV1, { input: { cents: 1000 } }));
      await waitFor("the old run to wait for its signal", async () =>
        types(await before.client.getHistory(oldRun)).includes("SignalWaitStarted"),
      );
    } finally {
      await before.stop();
    }
    // The new code is deployed: the run recorded under feeV1 is rebuilt from its history.
    const after = await open([feeV2], timeoutSteps);
    try {
      const { workflowId: newRun } = await after.client.start(feeV2, { input: { cents: 1000 } });
      await after.client.signal(oldRun, "confirmed", {});
      await after.client.signal(newRun, "confirmed", {});
      expect(await after.client.result(oldRun, { timeoutMs: 30_000 })).toEqual({
        branch: "flat",
        fee: 30,
        of: 1000,
      });
      expect(await after.client.result(newRun, { timeoutMs: 30_000 })).toEqual({
        branch: "percent",
        fee: 20,
        of: 1000,
      });
      const oldHistory = await after.client.getHistory(oldRun);
      const newHistory = await after.client.getHistory(newRun);
      expect(types(oldHistory)).not.toContain("PatchMarked");
      expect(eventsOf(newHistory, "PatchMarked").map((e) => e.body)).toEqual([
        { type: "PatchMarked", patchId: "percent-fee", afterEvents: 1, deprecated: false },
      ]);
      // Both replay through the new code; the old code cannot replay the new run.
      expect((await checkReplay(feeV2, oldHistory)).ok).toBe(true);
      expect((await checkReplay(feeV2, newHistory)).ok).toBe(true);
      expect((await checkReplay(feeV1, newHistory)).divergence?.found).toBe('step "flatFee"');
    } finally {
      await after.stop();
    }
  });
}
