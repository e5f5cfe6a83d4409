/**
 * The test kit's environment: a decider and a worker on an embedded log with a virtual clock.
 * No broker, database or Redis is touched; waits, timeouts and retry backoff take no real time.
 */
import {
  defineStep,
  defineWorkflow,
  RunClosedError,
  RunNotFoundError,
  TerminalError,
  WorkflowFailedError,
} from "../../sdk";
import type { HistoryEvent, StepContext } from "../../sdk";
import { checkReplay, createTestEnvironment, type TestEnvironment } from "../../sdk/testing";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2030, 0, 1);

const greet = defineStep("greet", (input: { name: string }) => `hello ${input.name}`);
const charge = defineStep("charge", (input: { cents: number }) => ({ charged: input.cents }), {
  retry: {
    maximumAttempts: 5,
    backoff: "exponential",
    initialIntervalMs: HOUR,
    maximumIntervalMs: DAY,
  },
});
const realWork = defineStep("realWork", async (input: { ms: number }) => {
  await new Promise((r) => setTimeout(r, input.ms));
  return "done";
});

const trial = defineWorkflow("trial", async (ctx, input: { name: string }) => {
  const greeting = await ctx.step(greet, input);
  await ctx.wait(30 * DAY);
  return { greeting, endedAt: ctx.now() };
});

const billing = defineWorkflow("billing", async (ctx) => ctx.step(charge, { cents: 500 }));

const approval = defineWorkflow("approval", async (ctx) => {
  const answer = await ctx.waitForSignal<{ by: string }>("approve", { timeoutMs: DAY });
  return answer ? `approved by ${answer.by}` : `expired at ${ctx.now()}`;
});

const reminder = defineWorkflow("reminder", async (ctx) => {
  await ctx.wait(HOUR);
  return ctx.step(greet, { name: "again" });
});

const overlap = defineWorkflow("overlap", async (ctx) => {
  await Promise.all([ctx.step(realWork, { ms: 150 }), ctx.wait(DAY)]);
  return "both";
});

const twoApprovals = defineWorkflow("twoApprovals", async (ctx) => {
  const answers: (string | null)[] = [];
  for (let i = 0; i < 2; i++) {
    const answer = await ctx.waitForSignal<{ by: string }>("approve", { timeoutMs: DAY });
    answers.push(answer?.by ?? null);
  }
  return answers;
});

const workflows = [trial, billing, approval, reminder, overlap, twoApprovals];
const steps = [greet, charge, realWork];

function types(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => e.body.type);
}

describe("createTestEnvironment", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({ workflows, steps, startTime: START });
  });

  afterEach(async () => {
    await env.close();
  });

  it("completes a workflow with a 30-day wait in virtual time, not real time", async () => {
    const began = performance.now();
    const id = await env.start(trial, { name: "ada" });
    const result = await env.result(id);
    const realMs = performance.now() - began;
    console.log(`30-day wait: ${realMs.toFixed(1)} ms of real time`);
    expect(result).toEqual({ greeting: "hello ada", endedAt: START + 30 * DAY });
    // Tens of ms on a quiet machine (printed above); the bound only tells a skipped wait from
    // a waited one, and leaves room for a loaded CI machine (it took 1.06 s once).
    expect(realMs).toBeLessThan(30_000);
    expect(env.now()).toBe(START + 30 * DAY);
  });

  it("records the run's history with virtual times, for assertions", async () => {
    const id = await env.start(trial, { name: "ada" });
    await env.result(id);
    const history = await env.history(id);
    expect(types(history)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepStarted",
      "StepCompleted",
      "TimerStarted",
      "TimerFired",
      "WorkflowCompleted",
    ]);
    const timer = history.find((e) => e.body.type === "TimerStarted")!;
    expect(timer.at).toBe(START);
    expect(timer.body).toMatchObject({ durationMs: 30 * DAY, dueAt: START + 30 * DAY });
    expect(history.find((e) => e.body.type === "TimerFired")!.at).toBe(START + 30 * DAY);
    // A history from the test kit is a history like any other: it replays.
    expect((await checkReplay(trial, history)).ok).toBe(true);
  });

  it("retries with backoff without waiting in real time", async () => {
    let calls = 0;
    env.replaceStep("charge", (input: { cents: number }) => {
      calls++;
      if (calls < 4) throw new Error(`card network down (${calls})`);
      return { charged: input.cents };
    });
    const began = performance.now();
    const id = await env.start(billing);
    expect(await env.result(id)).toEqual({ charged: 500 });
    const realMs = performance.now() - began;
    const history = await env.history(id);
    const retries = history.flatMap((e) => (e.body.type === "StepRetryScheduled" ? [e.body] : []));
    // Exponential backoff of the step's policy: 1 h, 2 h, 4 h, all skipped.
    expect(retries.map((r) => r.delayMs)).toEqual([HOUR, 2 * HOUR, 4 * HOUR]);
    expect(history.at(-1)!.at).toBe(START + 7 * HOUR);
    expect(calls).toBe(4);
    console.log(`3 retries over 7 h of backoff: ${realMs.toFixed(1)} ms of real time`);
    // As for the 30-day wait: a skipped backoff, not a speed target.
    expect(realMs).toBeLessThan(30_000);
  });

  it("fails the run when a replaced step fails for good", async () => {
    env.replaceStep("charge", () => {
      throw new TerminalError("card declined");
    });
    const id = await env.start(billing);
    await expect(env.result(id)).rejects.toThrow(WorkflowFailedError);
    await expect(env.result(id)).rejects.toThrow(/card declined/);
  });

  it("runs a step replaced per test, with what the real step would get", async () => {
    const fake = jest.fn(
      (input: { name: string }, _step: StepContext) => `hi ${input.name} (fake)`,
    );
    env.replaceStep("greet", fake);
    const id = await env.start(trial, { name: "grace" });
    expect(await env.result(id)).toMatchObject({ greeting: "hi grace (fake)" });
    expect(fake).toHaveBeenCalledTimes(1);
    expect(fake.mock.calls[0]![0]).toEqual({ name: "grace" });
    expect(fake.mock.calls[0]![1]).toMatchObject({ idempotencyKey: `${id}/1`, attempt: 1 });

    env.restoreSteps();
    const again = await env.start(trial, { name: "grace" });
    expect(await env.result(again)).toMatchObject({ greeting: "hello grace" });
  });

  it("takes replacements at creation", async () => {
    const other = await createTestEnvironment({
      workflows,
      steps,
      stepOverrides: { greet: () => "stubbed" },
    });
    try {
      const id = await other.start(trial, { name: "x" });
      expect(await other.result(id)).toMatchObject({ greeting: "stubbed" });
    } finally {
      await other.close();
    }
  });

  it("delivers a signal sent before the timeout", async () => {
    const id = await env.start(approval);
    await env.signal(id, "approve", { by: "ada" });
    expect(await env.result(id)).toBe("approved by ada");
    expect(env.now()).toBe(START);
    expect(types(await env.history(id))).toEqual([
      "WorkflowStarted",
      "SignalWaitStarted",
      "SignalReceived",
      "WorkflowCompleted",
    ]);
  });

  it("records a signal repeated with its request ID once", async () => {
    const id = await env.start(twoApprovals);
    const sent = await env.signal(id, "approve", { by: "ada" });
    expect(sent).toEqual({ workflowId: id, requestId: expect.any(String) });
    await env.signal(id, "approve", { by: "ada" }, { requestId: sent.requestId });
    // The repeat is not a second approval: the second wait times out.
    expect(await env.result(id)).toEqual(["ada", null]);
    const received = (await env.history(id)).filter((e) => e.body.type === "SignalReceived");
    expect(received.map((e) => e.body)).toEqual([
      expect.objectContaining({ requestId: sent.requestId }),
    ]);

    const other = await env.start(twoApprovals);
    await env.signal(other, "approve", { by: "ada" }, { requestId: "first" });
    await env.signal(other, "approve", { by: "ada" }, { requestId: "second" });
    expect(await env.result(other)).toEqual(["ada", "ada"]);
  });

  it("refuses a signal or cancel to a run never started (NOT_FOUND) or closed (RUN_CLOSED)", async () => {
    await expect(env.signal("never-started", "approve", { by: "ada" })).rejects.toBeInstanceOf(
      RunNotFoundError,
    );
    await expect(env.cancel("never-started")).rejects.toMatchObject({ code: "NOT_FOUND" });

    const id = await env.start(approval);
    await env.signal(id, "approve", { by: "ada" }, { requestId: "approve-1" });
    expect(await env.result(id)).toBe("approved by ada");
    const late = env.signal(id, "approve", { by: "bob" });
    await expect(late).rejects.toBeInstanceOf(RunClosedError);
    await expect(late).rejects.toMatchObject({
      code: "RUN_CLOSED",
      details: { workflowId: id, status: "completed" },
    });
    await expect(env.cancel(id)).rejects.toMatchObject({ code: "RUN_CLOSED" });
    // The retry of the signal that got through: answered as sent, and not recorded twice.
    await expect(
      env.signal(id, "approve", { by: "ada" }, { requestId: "approve-1" }),
    ).resolves.toEqual({ workflowId: id, requestId: "approve-1" });
    expect(types(await env.history(id))).toEqual([
      "WorkflowStarted",
      "SignalWaitStarted",
      "SignalReceived",
      "WorkflowCompleted",
    ]);
  });

  it("skips to a signal's timeout when none comes", async () => {
    const id = await env.start(approval);
    expect(await env.result(id)).toBe(`expired at ${START + DAY}`);
    expect(types(await env.history(id))).toContain("SignalWaitTimedOut");
  });

  it("moves time by hand with skipTime", async () => {
    const id = await env.start(approval);
    await env.skipTime(12 * HOUR);
    expect(types(await env.history(id))).toEqual(["WorkflowStarted", "SignalWaitStarted"]);
    await env.signal(id, "approve", { by: "half a day later" });
    expect(await env.result(id)).toBe("approved by half a day later");
    expect((await env.history(id)).at(-1)!.at).toBe(START + 12 * HOUR);

    const later = await env.start(reminder);
    await env.skipTime(HOUR - 1);
    expect(types(await env.history(later))).not.toContain("TimerFired");
    await env.skipTime(1);
    expect(types(await env.history(later))).toContain("StepCompleted");
    expect(await env.result(later)).toBe("hello again");
  });

  it("does not skip time while a step runs", async () => {
    const id = await env.start(overlap);
    expect(await env.result(id)).toBe("both");
    const history = await env.history(id);
    const completed = history.find((e) => e.body.type === "StepCompleted")!;
    const fired = history.find((e) => e.body.type === "TimerFired")!;
    expect(completed.at).toBe(START);
    expect(completed.seq).toBeLessThan(fired.seq);
    expect(fired.at).toBe(START + DAY);
  });

  // A command the decider cannot record parks the run as blocked, with the reason.
  it("a workflow asking for something the decider refuses is blocked, with the reason", async () => {
    const badPolicy = defineWorkflow("badPolicy", async (ctx) =>
      // The decider refuses a policy whose cap is below its first interval.
      ctx.step(greet, { name: "x" }, { retry: { initialIntervalMs: HOUR, maximumIntervalMs: 1 } }),
    );
    const other = await createTestEnvironment({
      workflows: [badPolicy],
      steps,
      resultTimeoutMs: 300,
      logLevel: "silent",
    });
    try {
      const id = await other.start(badPolicy);
      await expect(other.result(id)).rejects.toThrow();
      const history = await other.history(id);
      expect(history.map((e) => e.body.type)).toEqual(["WorkflowStarted", "WorkflowBlocked"]);
      expect(history[1]!.body).toMatchObject({
        type: "WorkflowBlocked",
        reason: expect.stringMatching(/could not record .*maximumIntervalMs/),
      });
    } finally {
      await other.close();
    }
  });

  it("says why a run cannot close", async () => {
    const waiting = defineWorkflow("waitsForever", async (ctx) => ctx.waitForSignal("never"));
    const other = await createTestEnvironment({ workflows: [waiting], resultTimeoutMs: 300 });
    try {
      const id = await other.start(waiting);
      await expect(other.result(id)).rejects.toThrow(
        /history ends with SignalWaitStarted .*no timer is pending/,
      );
    } finally {
      await other.close();
    }
  });
});

it("creates an environment in at most 200 ms", async () => {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const began = performance.now();
    const env = await createTestEnvironment({ workflows, steps });
    times.push(performance.now() - began);
    await env.close();
  }
  const median = [...times].sort((a, b) => a - b)[2]!;
  console.log(
    `environment created in ${times.map((t) => t.toFixed(1)).join(", ")} ms (median ${median.toFixed(1)})`,
  );
  expect(median).toBeLessThanOrEqual(200);
});
