/**
 * Timeouts in the test kit: limits of days pass in virtual time at once (an execution timeout,
 * a schedule-to-start timeout on a queue nobody serves), and a step whose handler stops
 * heartbeating is retried with its last details.
 */
import { InvalidInputError, WorkflowFailedError } from "../../sdk";
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { defineWorkflow } from "../../workflow/definitions";
import {
  resumableAttempts,
  resumableFlow,
  timeoutSteps,
  unstartedFlow,
} from "../fixtures/timeouts";
import { eventsOf } from "../support/history";

const DAY = 86_400_000;

/** Waits a week for an approval that never comes, but may run two days at most. */
const approvalWithDeadline = defineWorkflow(
  "approvalWithDeadline",
  async (ctx) => (await ctx.waitForSignal("approved", { timeoutMs: 7 * DAY })) ?? "expired",
  { executionTimeoutMs: 2 * DAY },
);

describe("timeouts in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({
      workflows: [approvalWithDeadline, resumableFlow, unstartedFlow],
      steps: timeoutSteps,
    });
  });

  afterEach(async () => {
    await env.close();
  });

  it("fails a run at its execution timeout, in virtual time", async () => {
    const startedAt = env.now();
    const id = await env.start(approvalWithDeadline, {});
    const error = await env.result(id).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).details.errorCode).toBe("WORKFLOW_TIMEOUT");
    const [failed] = eventsOf(await env.history(id), "WorkflowFailed");
    expect(failed!.at - startedAt).toBeGreaterThanOrEqual(2 * DAY);
    expect(failed!.at - startedAt).toBeLessThan(7 * DAY);
  });

  it("takes a start's execution timeout over the workflow's, and refuses one that is not positive", async () => {
    const startedAt = env.now();
    const id = await env.start(approvalWithDeadline, {}, { executionTimeoutMs: DAY / 2 });
    await expect(env.result(id)).rejects.toBeInstanceOf(WorkflowFailedError);
    const [failed] = eventsOf(await env.history(id), "WorkflowFailed");
    expect(failed!.at - startedAt).toBeGreaterThanOrEqual(DAY / 2);
    expect(failed!.at - startedAt).toBeLessThan(DAY);
    await expect(env.start(approvalWithDeadline, {}, { executionTimeoutMs: 0 })).rejects.toThrow(
      InvalidInputError,
    );
  });

  it("fails a step nobody starts with STEP_SCHEDULE_TO_START_TIMEOUT after its retries", async () => {
    const id = await env.start(unstartedFlow, {});
    expect(await env.result(id)).toEqual({
      failed: true,
      attempts: 2,
      code: "STEP_SCHEDULE_TO_START_TIMEOUT",
    });
  });

  it("retries a step that stopped heartbeating; the retry reads the last details", async () => {
    const id = await env.start(resumableFlow, { key: "kit-resume", pages: 3 });
    expect(await env.result(id)).toMatchObject({ resumedFrom: 2, attempt: 2 });
    expect(resumableAttempts("kit-resume")).toEqual([
      { attempt: 1, lastHeartbeatDetails: undefined },
      { attempt: 2, lastHeartbeatDetails: { page: 2 } },
    ]);
  });
});
