/**
 * The reports a worker sends for one attempt. A step that ends within the hold of its started
 * report sends one command, its result carrying the start; a longer one sends its start while
 * it runs (before any heartbeat), then its result without it. On the in-process lease store,
 * with a sender that keeps what it is given.
 */
import { InProcessStepLeaseStore } from "../../adapters/in-process/step-lease-store";
import { createLogger } from "../../core/logger";
import type { Command, CommandBody, StepTask } from "../../schemas/types";
import { STARTED_REPORT_HOLD_MS } from "../../workers/held-start";
import { StepLeases } from "../../workers/step-lease";
import { StepRunner } from "../../workers/step-runner";
import { defineStep, type AnyStepDefinition } from "../../workflow/definitions";

const log = createLogger("silent");

/** Resolves once a report of `type` was sent. */
type Sent = { bodies: CommandBody[]; when(type: CommandBody["type"]): Promise<void> };

function runner(steps: AnyStepDefinition[]): { runner: StepRunner; sent: Sent } {
  const bodies: CommandBody[] = [];
  const waiting: { type: string; resolve: () => void }[] = [];
  const sent: Sent = {
    bodies,
    when: (type) =>
      bodies.some((b) => b.type === type)
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push({ type, resolve })),
  };
  const stop = new AbortController();
  const runner = new StepRunner({
    workerId: "w1",
    steps: new Map(steps.map((s) => [s.name, s])),
    leases: new StepLeases(new InProcessStepLeaseStore(), 1000, "w1"),
    commands: {
      send: (command: Command) => {
        bodies.push(command.body);
        for (const w of waiting.filter((x) => x.type === command.body.type)) w.resolve();
        return Promise.resolve();
      },
    },
    stopping: stop.signal,
    shutdown: stop.signal,
  });
  return { runner, sent };
}

function task(stepName: string, stepSeq = 1, heartbeatTimeoutMs: number | null = null): StepTask {
  return {
    workflowId: "wf-reports",
    workflowType: "t",
    stepSeq,
    stepName,
    attempt: 1,
    input: "{}",
    idempotencyKey: `wf-reports/${stepSeq}`,
    timeoutMs: null,
    dispatchedAt: 0,
    heartbeatTimeoutMs,
    lastHeartbeatDetails: null,
  };
}

/** A step that runs until the test lets it end. */
function gated(name: string, beat = false) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const step = defineStep(name, async (_input: unknown, ctx) => {
    if (beat) await ctx.heartbeat({ at: "begin" });
    await gate;
    return "done";
  });
  return { step, open };
}

it("sends a quick step's start with its result, one report", async () => {
  const quick = defineStep("quick", () => 7);
  const fails = defineStep("fails", () => {
    throw new Error("no");
  });
  const { runner: r, sent } = runner([quick, fails]);
  const before = Date.now();
  expect(await r.run(task("quick", 1), log)).toBe("reported");
  expect(await r.run(task("fails", 2), log)).toBe("reported");
  expect(sent.bodies.map((b) => b.type)).toEqual(["ReportStepCompleted", "ReportStepFailed"]);
  for (const body of sent.bodies) {
    const startedAt = (body as { startedAt?: number | null }).startedAt;
    expect(startedAt).toBeGreaterThanOrEqual(before);
    expect(startedAt).toBeLessThanOrEqual(Date.now());
  }
});

it("sends a longer step's start while it runs, and its result without it", async () => {
  const { step, open } = gated("long");
  const { runner: r, sent } = runner([step]);
  const began = Date.now();
  const outcome = r.run(task("long"), log);
  // The step is still running (its gate is shut) when its start goes out, after the hold.
  await sent.when("ReportStepStarted");
  expect(Date.now() - began).toBeGreaterThanOrEqual(STARTED_REPORT_HOLD_MS - 1);
  expect(sent.bodies.map((b) => b.type)).toEqual(["ReportStepStarted"]);
  open();
  expect(await outcome).toBe("reported");
  expect(sent.bodies.map((b) => b.type)).toEqual(["ReportStepStarted", "ReportStepCompleted"]);
  expect(sent.bodies[1]).not.toHaveProperty("startedAt");
});

it("sends the start before a heartbeat, however soon the step beats", async () => {
  const { step, open } = gated("beats", true);
  const { runner: r, sent } = runner([step]);
  const outcome = r.run(task("beats", 1, 60_000), log);
  await sent.when("ReportStepHeartbeat");
  expect(sent.bodies.map((b) => b.type)).toEqual(["ReportStepStarted", "ReportStepHeartbeat"]);
  open();
  expect(await outcome).toBe("reported");
  expect(sent.bodies.map((b) => b.type)).toEqual([
    "ReportStepStarted",
    "ReportStepHeartbeat",
    "ReportStepCompleted",
  ]);
});

it("sends no start for an attempt that never ran", async () => {
  const { runner: r, sent } = runner([]);
  expect(await r.run(task("missing"), log)).toBe("reported");
  expect(sent.bodies).toEqual([
    expect.objectContaining({
      type: "ReportStepFailed",
      error: expect.objectContaining({ code: "UNKNOWN_STEP" }),
    }),
  ]);
  expect(sent.bodies[0]).not.toHaveProperty("startedAt");
});
