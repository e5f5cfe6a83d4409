/**
 * The sandbox workflow code runs in (workflow/sandbox.ts, workflow/execution.ts), through the
 * decider's pure core with no execution cache: every event replays the run's whole history
 * through its code first, as after a restart.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../../core/logger";
import { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { CommandBody, HistoryEvent } from "../../schemas/types";
import { defineWorkflow, type AnyWorkflowDefinition } from "../../workflow/definitions";
import { seededRandom } from "../../workflow/random";
import { currentScope, sandboxGlobalsInstalled } from "../../workflow/sandbox";
import { expectGapless, types } from "../support/history";

// The process's own globals, taken before any workflow code ran.
const RealDate = Date;
const realNow = Date.now;
const realRandom = Math.random;
const realSetTimeout = globalThis.setTimeout;
const realSetImmediate = globalThis.setImmediate;
const realQueueMicrotask = globalThis.queueMicrotask;
// Compared by identity only.
// eslint-disable-next-line @typescript-eslint/unbound-method
const realNextTick = process.nextTick;
const performanceNow = Object.getOwnPropertyDescriptor(performance, "now");
const randomDescriptor = Object.getOwnPropertyDescriptor(Math, "random");

function harness(workflows: AnyWorkflowDefinition[]) {
  const state = new PartitionState(0, new Registry(workflows, []), createLogger("silent"), {
    executionCacheSize: 0,
  });
  const history: HistoryEvent[] = [];
  let clock = 1_000;
  const apply = async (workflowId: string, body: CommandBody) => {
    clock += 10;
    await state.apply({ workflowId, sentAt: clock, body }, clock);
    history.push(...state.takeDecisions().events);
  };
  const start = (workflowId: string, workflowType: string) =>
    apply(workflowId, {
      type: "StartWorkflow",
      workflowType,
      input: "{}",
      idempotencyKey: null,
      requestId: "r",
    });
  const complete = (workflowId: string, stepSeq: number, result: unknown = null) =>
    apply(workflowId, {
      type: "ReportStepCompleted",
      stepSeq,
      attempt: 1,
      workerId: "w1",
      result: JSON.stringify(result),
    });
  const last = () => history[history.length - 1]!.body;
  return { history, start, complete, last };
}

function expectRealGlobals(): void {
  expect(sandboxGlobalsInstalled()).toBe(false);
  expect(Date).toBe(RealDate);
  expect(Date.now).toBe(realNow);
  expect(Math.random).toBe(realRandom);
  expect(Object.getOwnPropertyDescriptor(Math, "random")).toEqual(randomDescriptor);
  expect(globalThis.setTimeout).toBe(realSetTimeout);
  expect(globalThis.setImmediate).toBe(realSetImmediate);
  expect(globalThis.queueMicrotask).toBe(realQueueMicrotask);
  // eslint-disable-next-line @typescript-eslint/unbound-method
  expect(process.nextTick).toBe(realNextTick);
  expect(currentScope()).toBeUndefined();
  expect(Object.getOwnPropertyDescriptor(performance, "now")).toEqual(performanceNow);
}

describe("workflow code's Math.random()", () => {
  // Ten coin flips, each choosing the next step: replay takes the same branch every time, or
  // the decider finds a different step than history holds and parks the run.
  const coins = defineWorkflow("coins", async (ctx) => {
    const flips: string[] = [];
    for (let i = 0; i < 10; i++) {
      const side = Math.random() < 0.5 ? "heads" : "tails";
      flips.push(side);
      await ctx.step(side);
    }
    return flips;
  });

  it("branches the same on every replay, from a seeded stream apart from ctx.random()'s", async () => {
    const h = harness([coins]);
    await h.start("c1", "coins");
    for (let seq = 1; seq <= 10; seq++) await h.complete("c1", seq);
    expect(types(h.history)).not.toContain("WorkflowBlocked");
    const done = h.last();
    if (done.type !== "WorkflowCompleted") throw new Error(`not completed: ${done.type}`);
    const flips = JSON.parse(done.result) as string[];
    const scheduled = h.history.flatMap((e) =>
      e.body.type === "StepScheduled" ? [e.body.stepName] : [],
    );
    expect(scheduled).toEqual(flips);
    // The run's own stream, not ctx.random()'s (seeded by the workflow ID alone).
    const stream = seededRandom("c1/Math.random");
    expect(flips).toEqual(flips.map(() => (stream() < 0.5 ? "heads" : "tails")));
    const ctxStream = seededRandom("c1");
    expect(flips).not.toEqual(flips.map(() => (ctxStream() < 0.5 ? "heads" : "tails")));
    expectGapless(h.history);
    expectRealGlobals();
  });
});

describe("workflow code's clock", () => {
  const clocks = defineWorkflow("clocks", async (ctx) => {
    const read = () => ({
      ctx: ctx.now(),
      now: Date.now(),
      date: new Date().getTime(),
      text: Date(),
      given: new Date(5).getTime(),
      parsed: Date.parse("1970-01-01T00:00:01Z"),
      instance: new Date() instanceof Date,
      performance: performance.now(),
    });
    const before = read();
    await ctx.step("tick");
    return { before, after: read() };
  });

  it("is the time of the event being processed, on every replay", async () => {
    const h = harness([clocks]);
    await h.start("k1", "clocks");
    await h.complete("k1", 1);
    const done = h.last();
    if (done.type !== "WorkflowCompleted") throw new Error(`not completed: ${done.type}`);
    const { before, after } = JSON.parse(done.result) as Record<string, Record<string, unknown>>;
    const startedAt = h.history[0]!.at;
    const completedAt = h.history.find((e) => e.body.type === "StepCompleted")!.at;
    expect(before).toEqual({
      ctx: startedAt,
      now: startedAt,
      date: startedAt,
      text: new RealDate(startedAt).toString(),
      given: 5,
      parsed: 1000,
      instance: true,
      performance: 0,
    });
    expect(after).toMatchObject({
      ctx: completedAt,
      now: completedAt,
      date: completedAt,
      performance: completedAt - startedAt,
    });
    expectRealGlobals();
  });

  // Every way a run's code continues: a helper's awaits, .then, Promise.all and race, a
  // thenable, queueMicrotask and process.nextTick callbacks, after a step and before it.
  const continuations = defineWorkflow("continuations", async (ctx) => {
    const helper = async () => {
      await Promise.resolve();
      await Promise.resolve();
      return Date.now();
    };
    const read = async () => {
      const viaThen = await Promise.resolve().then(() => Date.now());
      const [viaAll] = await Promise.all([helper(), Promise.resolve(1)]);
      const viaRace = await Promise.race([helper()]);
      const viaThenable = await { then: (resolve: (v: number) => void) => resolve(Date.now()) };
      const viaMicrotask = await new Promise<number>((resolve) =>
        queueMicrotask(() => resolve(Date.now())),
      );
      const viaNextTick = await new Promise<number>((resolve) =>
        process.nextTick((a: number) => resolve(Date.now() + a), 0),
      );
      return [viaThen, viaAll, viaRace, viaThenable, viaMicrotask, viaNextTick];
    };
    const before = await read();
    await ctx.step("tick");
    return { before, after: await read() };
  });

  it("follows the run's code through every kind of continuation", async () => {
    const h = harness([continuations]);
    await h.start("c1", "continuations");
    await h.complete("c1", 1);
    const done = h.last();
    if (done.type !== "WorkflowCompleted") throw new Error(`not completed: ${done.type}`);
    const { before, after } = JSON.parse(done.result) as Record<string, number[]>;
    const startedAt = h.history[0]!.at;
    const completedAt = h.history.find((e) => e.body.type === "StepCompleted")!.at;
    expect(before).toEqual(Array(6).fill(startedAt));
    expect(after).toEqual(Array(6).fill(completedAt));
    expectRealGlobals();
  });

  it("is the real one for code outside the run, in the same microtasks as the run's", async () => {
    // A continuation registered here, outside the run, that the run's code sets off.
    let release!: () => void;
    const seen = new Promise<{ installed: boolean; now: number; date: number }>((resolve) => {
      void new Promise<void>((r) => (release = r)).then(() =>
        resolve({
          installed: sandboxGlobalsInstalled(),
          now: Date.now(),
          date: new Date().getTime(),
        }),
      );
    });
    const neighbour = defineWorkflow("neighbour", async (ctx) => {
      release();
      await ctx.step("tick");
    });
    const h = harness([neighbour]);
    const before = realNow();
    await h.start("n1", "neighbour");
    const outside = await seen;
    expect(outside.installed).toBe(true);
    expect(outside.now).toBeGreaterThanOrEqual(before);
    expect(outside.date).toBeGreaterThanOrEqual(before);
    expect(types(h.history)).toEqual(["WorkflowStarted", "StepScheduled"]);
    expectRealGlobals();
  });
});

describe("workflow code that waits on something history cannot replay", () => {
  let fired = 0;
  const timer = defineWorkflow("timer", async (ctx) => {
    await ctx.step("first");
    await new Promise((resolve) =>
      setTimeout(() => {
        fired++;
        resolve(undefined);
      }, 10),
    );
    await ctx.step("second");
  });
  const interval = defineWorkflow("interval", async () => {
    setInterval(() => fired++, 10);
    return new Promise(() => undefined);
  });
  const immediate = defineWorkflow("immediate", async () => {
    await new Promise((resolve) => setImmediate(resolve));
  });
  const foreign = defineWorkflow("foreign", async (ctx) => {
    await ctx.step("first");
    await sleep(10);
    await ctx.step("second");
  });

  it("parks a run that calls setTimeout, naming the call; the timer never fires", async () => {
    const h = harness([timer]);
    await h.start("t1", "timer");
    await h.complete("t1", 1);
    expect(types(h.history)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepCompleted",
      "WorkflowBlocked",
    ]);
    const blocked = h.last();
    expect(blocked).toMatchObject({ type: "WorkflowBlocked", code: "NON_DETERMINISTIC_AWAIT" });
    expect(blocked).toHaveProperty(
      "reason",
      expect.stringContaining('workflow t1 called setTimeout (10 ms) after step "first"'),
    );
    expect(blocked).toHaveProperty("reason", expect.stringContaining("ctx.sleep(ms)"));
    await sleep(50);
    expect(fired).toBe(0);
    expectRealGlobals();
  });

  it.each([
    ["setInterval", interval, "called setInterval (10 ms) at its start"],
    ["setImmediate", immediate, "called setImmediate at its start"],
  ])("parks a run that calls %s", async (_, workflow, reason) => {
    const h = harness([workflow]);
    await h.start("i1", workflow.name);
    expect(h.last()).toMatchObject({
      type: "WorkflowBlocked",
      code: "NON_DETERMINISTIC_AWAIT",
      reason: expect.stringContaining(reason) as string,
    });
    await sleep(30);
    expect(fired).toBe(0);
    expectRealGlobals();
  });

  it("parks a run that awaits a promise that is not a ctx operation, naming where", async () => {
    const h = harness([foreign]);
    await h.start("f1", "foreign");
    await h.complete("f1", 1);
    expect(types(h.history)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepCompleted",
      "WorkflowBlocked",
    ]);
    expect(h.last()).toMatchObject({
      code: "NON_DETERMINISTIC_AWAIT",
      reason: expect.stringContaining(
        'workflow f1 waits after step "first" on something that is not a ctx operation',
      ) as string,
    });
    // The foreign promise settles later: the parked run's code asks for nothing more.
    await sleep(30);
    expect(h.history.filter((e) => e.body.type === "StepScheduled")).toHaveLength(1);
    expectRealGlobals();
  });
});
