/**
 * The workflow sandbox (workflow/sandbox.ts), the same on every transport: workflow code's
 * Math.random() and Date.now() replay as they first ran, and a run that starts a timer of the
 * process is parked naming it. The deciders run with no execution cache, so every event
 * replays the run's whole history through its code first, as after a restart.
 */
import { WorkflowBlockedError } from "../../core/errors";
import type { WeftClient } from "../../sdk/client";
import { defineStep, defineWorkflow } from "../../workflow/definitions";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../../workflow/definitions";
import { sandboxGlobalsInstalled } from "../../workflow/sandbox";
import { eventsOf, types } from "../support/history";

/** A Weft hosting the workflows and steps on the transport under test, with no execution cache. */
export type OpenSandboxWeft = (
  workflows: AnyWorkflowDefinition[],
  steps: AnyStepDefinition[],
) => Promise<{ client: WeftClient; stop(): Promise<void> }>;

export const heads = defineStep("heads", () => "heads");
export const tails = defineStep("tails", () => "tails");

/** Eight coin flips, each choosing the next step: replay must take the same branches. */
export const coins = defineWorkflow("sandboxCoins", async (ctx) => {
  const flips: unknown[] = [];
  for (let i = 0; i < 8; i++) flips.push(await ctx.step(Math.random() < 0.5 ? heads : tails));
  return flips;
});

/** The clocks workflow code can read, after a step. */
export const clocks = defineWorkflow("sandboxClocks", async (ctx) => {
  await ctx.step(heads);
  return { now: Date.now(), date: new Date().getTime(), ctx: ctx.now() };
});

/** Waits on a timer of the process after a step. */
export const plainTimer = defineWorkflow("sandboxTimer", async (ctx) => {
  await ctx.step(heads);
  await new Promise((resolve) => setTimeout(resolve, 10));
  return ctx.step(tails);
});

export const sandboxWorkflows = [coins, clocks, plainTimer];
export const sandboxSteps = [heads, tails];

export function sandboxScenario(open: OpenSandboxWeft): void {
  let weft: Awaited<ReturnType<OpenSandboxWeft>>;
  const realNow = Date.now;
  const realRandom = Math.random;

  beforeAll(async () => {
    weft = await open(sandboxWorkflows, sandboxSteps);
  });

  afterAll(async () => {
    await weft.stop();
  });

  afterEach(() => {
    // Outside workflow code, after decisions: the process's own globals.
    expect(sandboxGlobalsInstalled()).toBe(false);
    expect(Date.now).toBe(realNow);
    expect(Math.random).toBe(realRandom);
  });

  it("replays workflow code's Math.random() branches as they first ran", async () => {
    const { workflowId } = await weft.client.start(coins);
    const flips = await weft.client.result<string[]>(workflowId, { timeoutMs: 60_000 });
    const history = await weft.client.getHistory(workflowId);
    expect(types(history)).not.toContain("WorkflowBlocked");
    expect(eventsOf(history, "StepScheduled").map((e) => e.body.stepName)).toEqual(flips);
  });

  it("gives workflow code's Date.now() and new Date() the event's time, as ctx.now()", async () => {
    const { workflowId } = await weft.client.start(clocks);
    const seen = await weft.client.result<Record<string, number>>(workflowId, {
      timeoutMs: 60_000,
    });
    const history = await weft.client.getHistory(workflowId);
    const at = eventsOf(history, "StepCompleted")[0]!.at;
    expect(seen).toEqual({ now: at, date: at, ctx: at });
  });

  it("parks a run that awaits a setTimeout, naming it, with a stable code", async () => {
    const { workflowId } = await weft.client.start(plainTimer);
    const error = await weft.client
      .result(workflowId, { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowBlockedError);
    expect((error as WorkflowBlockedError).details).toMatchObject({
      blockedCode: "NON_DETERMINISTIC_AWAIT",
    });
    expect((error as Error).message).toContain(
      `workflow ${workflowId} called setTimeout (10 ms) after step "heads"`,
    );
    const history = await weft.client.getHistory(workflowId);
    expect(types(history)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepStarted",
      "StepCompleted",
      "WorkflowBlocked",
    ]);
  });
}
