/**
 * Child workflows in the test kit: its decider is the engine's, so children start, report
 * and follow their parent's close policy in-process, on the virtual clock.
 */
import { WorkflowCancelledError } from "../../sdk";
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { carefulParent, familyParent, familySteps, familyWorkflows } from "../fixtures/children";
import { count, eventsOf, types } from "../support/history";

describe("child workflows in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({ workflows: familyWorkflows, steps: familySteps });
  });

  afterEach(async () => {
    await env.close();
  });

  it("sums 50 children's results", async () => {
    const id = await env.start(familyParent, { count: 50, done: 50, policy: "cancel" });
    // 0 + 2 + 4 + … + 98
    expect(await env.result(id)).toBe(2450);
    expect(count(await env.history(id), "ChildWorkflowCompleted")).toBe(50);
  });

  it("cancels the open half of 50 children when their parent is cancelled halfway", async () => {
    const id = await env.start(familyParent, { count: 50, done: 25, policy: "cancel" });
    await env.idle();
    expect(count(await env.history(id), "ChildWorkflowCompleted")).toBe(25);
    await env.cancel(id, "halfway");
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowCancelledError);
    await env.idle();
    const held = eventsOf(await env.history(id), "ChildWorkflowScheduled").slice(25);
    for (const { body } of held) {
      const child = await env.history(body.childWorkflowId);
      expect(types(child).slice(-5)).toEqual([
        "WorkflowCancelRequested",
        "StepScheduled", // its cleanup
        "StepStarted",
        "StepCompleted",
        "WorkflowCancelled",
      ]);
    }
  });

  it("surfaces a failed child as CHILD_WORKFLOW_FAILED", async () => {
    const id = await env.start(carefulParent, { fail: true });
    expect(await env.result(id)).toEqual({
      failed: "failed",
      code: "CHILD_WORKFLOW_FAILED",
      cause: "child 21 refused",
    });
  });
});
