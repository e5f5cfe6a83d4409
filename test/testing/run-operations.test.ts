/**
 * Run operations in the test kit: a reset of a failed run reuses the results before the step
 * (their handlers do not run again), a re-run starts the input anew, a terminate closes a run
 * at once without its cleanup.
 */
import { WorkflowCancelledError, WorkflowFailedError } from "../../sdk";
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import {
  brokenCarriers,
  orderFlow,
  orderInvocations,
  orderSteps,
  orderWorkflows,
} from "../fixtures/orders-reset";
import { invocationsOf, transfer, transferSteps, transferWorkflows } from "../fixtures/transfer";
import { count, eventsOf } from "../support/history";

describe("run operations in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({
      workflows: [...orderWorkflows, ...transferWorkflows],
      steps: [...orderSteps, ...transferSteps],
    });
  });

  afterEach(async () => {
    await env.close();
  });

  it("resets a failed run to its failed step, then re-runs the original", async () => {
    const order = "kit-reset";
    brokenCarriers.add(order);
    const id = await env.start(orderFlow, { order, cents: 50 });
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowFailedError);
    brokenCarriers.delete(order);

    const reset = await env.reset(id, 3);
    await expect(env.result(reset.workflowId)).resolves.toEqual({
      reservation: `${order}-r1`,
      charged: 50,
    });
    expect([orderInvocations("reserve", order), orderInvocations("charge", order)]).toEqual([1, 1]);
    const reused = eventsOf(await env.history(reset.workflowId), "StepCompleted").filter(
      (e) => e.body.reusedFrom === id,
    );
    expect(reused.map((e) => e.body.stepSeq)).toEqual([1, 2]);

    const rerun = await env.rerun(id);
    await expect(env.result(rerun.workflowId)).resolves.toEqual({
      reservation: `${order}-r2`,
      charged: 50,
    });
  });

  it("terminates a run without running its cleanup", async () => {
    const id = await env.start(transfer, { transfer: "kit-term", cents: 9, awaitApproval: true });
    await env.idle();
    await env.terminate(id, "stuck");
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowCancelledError);
    const history = await env.history(id);
    expect(count(history, "WorkflowCancelRequested")).toBe(0);
    expect(history.at(-1)!.body).toMatchObject({ type: "WorkflowCancelled", terminated: true });
    expect(invocationsOf("refund", "kit-term")).toBe(0);
  });
});
