/**
 * Cancellation that reaches the code, the same on every transport: the transfer saga
 * (fixtures/transfer.ts) refunds exactly once after its credit failed and after a cancel
 * landed on its approval wait (the refund inside ctx.nonCancellable), and a workflow that does
 * not catch the cancel still closes at once. Exactly once is counted twice: the refund step's
 * StepCompleted events in history and the refund handler's invocations; every history then
 * replays through the code (checkReplay).
 */
import { WorkflowCancelledError, WorkflowFailedError } from "../../core/errors";
import type { HistoryEvent } from "../../schemas/types";
import type { WeftClient } from "../../sdk/client";
import { checkReplay } from "../../workflow/replay-check";
import { creditAbortedWith, invocationsOf, plainApproval, transfer } from "../fixtures/transfer";
import { waitFor } from "../support/env";
import { eventsOf, expectGapless, types } from "../support/history";

/** A Weft hosting the transfer workflows and steps on the transport under test. */
export type OpenWeft = () => Promise<{ client: WeftClient; stop(): Promise<void> }>;

/** The refund ran once, as history and the handler both tell, and the history replays. */
export async function expectRefundedOnce(
  history: readonly HistoryEvent[],
  transferId: string,
): Promise<void> {
  const refundSeqs = eventsOf(history, "StepScheduled")
    .filter((e) => e.body.stepName === "refund")
    .map((e) => e.body.stepSeq);
  expect(refundSeqs).toHaveLength(1);
  const refunds = eventsOf(history, "StepCompleted").filter((e) =>
    refundSeqs.includes(e.body.stepSeq),
  );
  expect(refunds).toHaveLength(1);
  expect(invocationsOf("refund", transferId)).toBe(1);
  expectGapless(history);
  const replay = await checkReplay(transfer, history);
  expect(replay.divergence).toBeNull();
  expect(replay.ok).toBe(true);
}

/** Waits until the run's history holds an event of `type`. */
async function waitForEvent(
  client: WeftClient,
  workflowId: string,
  type: HistoryEvent["body"]["type"],
): Promise<void> {
  await waitFor(`${type} in the history of ${workflowId}`, async () =>
    types(await client.getHistory(workflowId)).includes(type),
  );
}

export function cancellationScenario(name: string, open: OpenWeft): void {
  it("refunds once after the credit failed, and the run fails with the credit's error", async () => {
    const weft = await open();
    try {
      const transferId = `${name}-failed`;
      const { workflowId } = await weft.client.start(transfer, {
        input: { transfer: transferId, cents: 500, failCredit: true },
      });
      const error = await weft.client.result(workflowId, { timeoutMs: 30_000 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as Error).message).toMatch(/the receiving account is closed/);
      const history = await weft.client.getHistory(workflowId);
      expect(types(history).at(-1)).toBe("WorkflowFailed");
      expect(types(history)).not.toContain("WorkflowCancelRequested");
      await expectRefundedOnce(history, transferId);
    } finally {
      await weft.stop();
    }
  });

  it("refunds once inside nonCancellable after a cancel during the wait, and the run closes cancelled", async () => {
    const weft = await open();
    try {
      const transferId = `${name}-cancelled`;
      const { workflowId } = await weft.client.start(transfer, {
        input: { transfer: transferId, cents: 700, awaitApproval: true },
      });
      await waitForEvent(weft.client, workflowId, "SignalWaitStarted");
      const { requestId } = await weft.client.cancel(workflowId, "the customer withdrew");
      const error = await weft.client.result(workflowId, { timeoutMs: 30_000 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(WorkflowCancelledError);
      const history = await weft.client.getHistory(workflowId);
      expect(types(history)).toEqual([
        "WorkflowStarted",
        "StepScheduled", // debit
        "StepStarted",
        "StepCompleted",
        "SignalWaitStarted", // approve
        "WorkflowCancelRequested",
        "StepScheduled", // refund, inside nonCancellable
        "StepStarted",
        "StepCompleted",
        "WorkflowCancelled",
      ]);
      expect(eventsOf(history, "WorkflowCancelRequested")[0]!.body).toEqual({
        type: "WorkflowCancelRequested",
        reason: "the customer withdrew",
        requestId,
      });
      expect(eventsOf(history, "WorkflowCancelled")[0]!.body).toEqual({
        type: "WorkflowCancelled",
        reason: "the customer withdrew",
        requestId,
        terminated: false, // its code ran to the end (history v7)
      });
      expect(invocationsOf("credit", transferId)).toBe(0);
      await expectRefundedOnce(history, transferId);
    } finally {
      await weft.stop();
    }
  });

  it("aborts the running credit's signal on a cancel, refunds once, and records the credit's end", async () => {
    const weft = await open();
    try {
      const transferId = `${name}-aborted`;
      const { workflowId } = await weft.client.start(transfer, {
        input: { transfer: transferId, cents: 900, slowCredit: true },
      });
      await waitFor("the credit to start", async () =>
        eventsOf(await weft.client.getHistory(workflowId), "StepStarted").some(
          (e) => e.body.stepSeq === 2,
        ),
      );
      await weft.client.cancel(workflowId, "too slow");
      await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowCancelledError,
      );
      // The worker aborted the step's signal with StepCancelledError; the attempt's failure
      // comes in on its own time, after the cancel, and is recorded, never retried.
      expect(creditAbortedWith(transferId)).toBe("STEP_CANCELLED");
      const history = await waitFor("the credit's failure to be recorded", async () => {
        const events = await weft.client.getHistory(workflowId);
        return eventsOf(events, "StepFailed").length > 0 ? events : undefined;
      });
      const [failed] = eventsOf(history, "StepFailed");
      expect(failed!.body).toMatchObject({ stepSeq: 2, willRetry: false });
      expect(failed!.body.error.code).toBe("STEP_CANCELLED");
      expect(types(history)).not.toContain("StepRetryScheduled");
      expect(invocationsOf("credit", transferId)).toBe(1);
      await expectRefundedOnce(history, transferId);
    } finally {
      await weft.stop();
    }
  });

  it("closes a run that does not catch the cancel at once, as before", async () => {
    const weft = await open();
    try {
      const { workflowId } = await weft.client.start(plainApproval);
      await waitForEvent(weft.client, workflowId, "SignalWaitStarted");
      await weft.client.cancel(workflowId, "not needed");
      await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowCancelledError,
      );
      const history = await weft.client.getHistory(workflowId);
      expect(types(history)).toEqual([
        "WorkflowStarted",
        "SignalWaitStarted",
        "WorkflowCancelRequested",
        "WorkflowCancelled",
      ]);
      expect((await checkReplay(plainApproval, history)).ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });
}
