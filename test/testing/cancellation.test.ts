/**
 * Cancellation in the test kit: the transfer saga refunds exactly once after a failed credit
 * and after a cancel of its approval wait (inside ctx.nonCancellable), a cancel during the
 * refund is not recorded again and does not stop it, and the histories replay (checkReplay).
 */
import { WorkflowCancelledError, WorkflowFailedError } from "../../sdk";
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import {
  creditAbortedWith,
  invocationsOf,
  transfer,
  transferSteps,
  transferWorkflows,
} from "../fixtures/transfer";
import { expectRefundedOnce } from "../integration/cancellation-scenario";
import { waitFor } from "../support/env";
import { count, eventsOf, types } from "../support/history";

describe("cancellation in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({ workflows: transferWorkflows, steps: transferSteps });
  });

  afterEach(async () => {
    await env.close();
  });

  it("refunds once after the credit failed; the run fails", async () => {
    const id = await env.start(transfer, { transfer: "kit-failed", cents: 300, failCredit: true });
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowFailedError);
    await expectRefundedOnce(await env.history(id), "kit-failed");
  });

  it("refunds once after a cancel of the wait, also when the cancel is sent again; the run closes cancelled", async () => {
    const id = await env.start(transfer, {
      transfer: "kit-cancelled",
      cents: 300,
      awaitApproval: true,
    });
    await env.idle();
    const first = await env.cancel(id, "withdrawn", { requestId: "cancel-1" });
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowCancelledError);
    // A retry of the same cancel finds the run closed with its request ID: accepted, not sent.
    await expect(env.cancel(id, "withdrawn", { requestId: first.requestId })).resolves.toEqual(
      first,
    );
    const history = await env.history(id);
    expect(count(history, "WorkflowCancelRequested")).toBe(1);
    expect(types(history).at(-1)).toBe("WorkflowCancelled");
    expect(invocationsOf("debit", "kit-cancelled")).toBe(1);
    expect(invocationsOf("credit", "kit-cancelled")).toBe(0);
    await expectRefundedOnce(history, "kit-cancelled");
  });

  it("aborts the running step's signal on a cancel; its failure is recorded once, not retried", async () => {
    const id = await env.start(transfer, { transfer: "kit-aborted", cents: 300, slowCredit: true });
    // Not env.history: that waits until nothing is in flight, and the credit runs 30 s.
    await waitFor("the credit to start", () => invocationsOf("credit", "kit-aborted") === 1);
    await env.cancel(id, "too slow");
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowCancelledError);
    await env.idle();
    expect(creditAbortedWith("kit-aborted")).toBe("STEP_CANCELLED");
    const history = await env.history(id);
    const failed = eventsOf(history, "StepFailed");
    expect(failed.map((e) => [e.body.stepSeq, e.body.error.code, e.body.willRetry])).toEqual([
      [2, "STEP_CANCELLED", false],
    ]);
    await expectRefundedOnce(history, "kit-aborted");
  });
});
