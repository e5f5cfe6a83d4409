/**
 * Run operations, the same on every transport, through the client: a reset of a failed run to
 * a step reuses the recorded results before it (their steps do not run again, the new run's
 * history marks them with the source run) and runs that step and the rest again; a re-run
 * starts the same input anew, the same run for a retry with the same request ID; a terminate
 * closes a run at once without running its cleanup and stops its running step. Every new
 * history replays through the code (checkReplay).
 */
import {
  WorkflowCancelledError,
  WorkflowFailedError,
  WeftError,
  type ErrorCode,
} from "../../core/errors";
import type { HistoryEvent } from "../../schemas/types";
import type { WeftClient } from "../../sdk/client";
import { checkReplay } from "../../workflow/replay-check";
import { brokenCarriers, orderFlow, orderInvocations } from "../fixtures/orders-reset";
import { creditAbortedWith, invocationsOf, transfer } from "../fixtures/transfer";
import { waitFor } from "../support/env";
import { count, eventsOf, expectGapless, types } from "../support/history";

/** A Weft hosting the order and transfer workflows and steps on the transport under test. */
export type OpenWeft = () => Promise<{ client: WeftClient; stop(): Promise<void> }>;

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | undefined> {
  return promise.then(
    () => undefined,
    (err: unknown) => (err instanceof WeftError ? err.code : undefined),
  );
}

async function waitForEvent(
  client: WeftClient,
  workflowId: string,
  type: HistoryEvent["body"]["type"],
): Promise<void> {
  await waitFor(`${type} in the history of ${workflowId}`, async () =>
    types(await client.getHistory(workflowId)).includes(type),
  );
}

export function runOperationsScenario(name: string, open: OpenWeft): void {
  it("resets a failed run to a step: the results before it are reused, that step and the rest run again", async () => {
    const weft = await open();
    try {
      const order = `${name}-reset`;
      brokenCarriers.add(order);
      const { workflowId: source } = await weft.client.start(orderFlow, {
        workflowId: order,
        input: { order, cents: 700 },
      });
      await expect(weft.client.result(source, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowFailedError,
      );
      // Refused before anything is sent: a step the run never had.
      expect(await codeOf(weft.client.reset(source, 9))).toBe("INVALID_RESET_POINT");

      brokenCarriers.delete(order); // the carrier is fixed
      const reset = await weft.client.reset(source, 3, { requestId: `${order}-op` });
      expect(reset.workflowId).not.toBe(source);
      await expect(weft.client.result(reset.workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        reservation: `${order}-r1`, // the source's reservation, not a new one
        charged: 700,
      });
      expect(orderInvocations("reserve", order)).toBe(1);
      expect(orderInvocations("charge", order)).toBe(1);
      expect(orderInvocations("ship", order)).toBe(2);

      const history = await weft.client.getHistory(reset.workflowId);
      expectGapless(history);
      const started = eventsOf(history, "WorkflowStarted")[0]!.body;
      expect(started.reset).toMatchObject({ sourceWorkflowId: source, toStepSeq: 3 });
      const completed = eventsOf(history, "StepCompleted").map((e) => [
        e.body.stepSeq,
        e.body.reusedFrom ?? null,
        e.body.workerId === null,
      ]);
      expect(completed).toEqual([
        [1, source, true],
        [2, source, true],
        [3, null, false],
      ]);
      const replay = await checkReplay(orderFlow, history);
      expect(replay.divergence).toBeNull();

      // A retry with the same request ID is the same run: started once.
      const again = await weft.client.reset(source, 3, { requestId: `${order}-op` });
      expect(again.workflowId).toBe(reset.workflowId);
      await weft.client.result(reset.workflowId, { timeoutMs: 30_000 });
      expect(count(await weft.client.getHistory(reset.workflowId), "WorkflowStarted")).toBe(1);
    } finally {
      await weft.stop();
    }
  });

  it("resets to an earlier step: only the steps before it are reused", async () => {
    const weft = await open();
    try {
      const order = `${name}-reset-early`;
      brokenCarriers.add(order);
      const { workflowId: source } = await weft.client.start(orderFlow, {
        workflowId: order,
        input: { order, cents: 300 },
      });
      await expect(weft.client.result(source, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowFailedError,
      );
      brokenCarriers.delete(order);
      // Under the source's own ID: the new run follows the failed one in the same history.
      const reset = await weft.client.reset(source, 2, { workflowId: source });
      expect(reset.workflowId).toBe(source);
      await expect(
        weft.client.result(source, { timeoutMs: 30_000, startRequestId: reset.requestId }),
      ).resolves.toEqual({ reservation: `${order}-r1`, charged: 300 });
      expect(orderInvocations("reserve", order)).toBe(1);
      expect(orderInvocations("charge", order)).toBe(2);
      const history = await weft.client.getHistory(source);
      expectGapless(history);
      const starts = eventsOf(history, "WorkflowStarted");
      expect(starts).toHaveLength(2);
      const newRun = history.filter((e) => e.seq >= starts[1]!.seq);
      // The new run's seqs count from its own start: its step 1 was reused, 2 and 3 ran.
      const first = starts[1]!.seq;
      expect(
        eventsOf(newRun, "StepCompleted").map((e) => [
          e.body.stepSeq - first + 1,
          e.body.reusedFrom ?? null,
        ]),
      ).toEqual([
        [1, source],
        [2, null],
        [3, null],
      ]);
    } finally {
      await weft.stop();
    }
  });

  it("re-runs a run with its input; refuses a reset of an open run", async () => {
    const weft = await open();
    try {
      const order = `${name}-rerun`;
      const { workflowId: source } = await weft.client.start(orderFlow, {
        workflowId: order,
        input: { order, cents: 100 },
      });
      await weft.client.result(source, { timeoutMs: 30_000 });
      const rerun = await weft.client.rerun(source);
      await expect(weft.client.result(rerun.workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        reservation: `${order}-r2`,
        charged: 100,
      });
      expect(orderInvocations("ship", order)).toBe(2);

      const transferId = `${name}-rerun-open`;
      const { workflowId: open } = await weft.client.start(transfer, {
        input: { transfer: transferId, cents: 5, awaitApproval: true },
      });
      await waitForEvent(weft.client, open, "SignalWaitStarted");
      expect(await codeOf(weft.client.reset(open, 1))).toBe("RUN_OPEN");
      expect(await codeOf(weft.client.rerun(open, { workflowId: open }))).toBe("RUN_OPEN");
      await weft.client.terminate(open);
    } finally {
      await weft.stop();
    }
  });

  it("terminates a run at once: no cleanup runs, its running step is told to stop", async () => {
    const weft = await open();
    try {
      const waiting = `${name}-terminate-wait`;
      const { workflowId: first } = await weft.client.start(transfer, {
        input: { transfer: waiting, cents: 200, awaitApproval: true },
      });
      await waitForEvent(weft.client, first, "SignalWaitStarted");
      const request = await weft.client.terminate(first, "stuck", { requestId: `${waiting}-t` });
      await expect(weft.client.result(first, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowCancelledError,
      );
      const history = await weft.client.getHistory(first);
      expect(history.at(-1)!.body).toMatchObject({
        type: "WorkflowCancelled",
        reason: "stuck",
        requestId: request.requestId,
        terminated: true,
      });
      // The code never saw it: no cancel request, and its refund (a cleanup) never ran.
      expect(count(history, "WorkflowCancelRequested")).toBe(0);
      expect(invocationsOf("refund", waiting)).toBe(0);
      // A retry of the same terminate is answered as accepted; another is refused.
      await expect(weft.client.terminate(first, "stuck", request)).resolves.toEqual(request);
      expect(await codeOf(weft.client.terminate(first))).toBe("RUN_CLOSED");

      const slow = `${name}-terminate-slow`;
      const { workflowId: second } = await weft.client.start(transfer, {
        input: { transfer: slow, cents: 200, slowCredit: true },
      });
      await waitFor("the credit to start", () => invocationsOf("credit", slow) === 1);
      await weft.client.terminate(second);
      await expect(weft.client.result(second, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowCancelledError,
      );
      await waitFor("the credit to be aborted", () => creditAbortedWith(slow) === "STEP_CANCELLED");
      expect(invocationsOf("refund", slow)).toBe(0);
    } finally {
      await weft.stop();
    }
  });
}
