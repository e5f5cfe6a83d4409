/**
 * The decider's side of timeouts and patches, with no broker: its timers are durable (a state
 * restored from history fires them as the one before would have), a heartbeat restarts the
 * heartbeat timer and its details reach the next attempt's task, a lost attempt's worker is
 * told, and `ctx.patched` is answered from history while a run replays.
 */
import { createLogger } from "../../core/logger";
import {
  executionTimeoutMessage,
  PartitionState,
  plainDuration,
} from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { Command, CommandBody, HistoryEvent, StepCancel, StepTask } from "../../schemas/types";
import { defineWorkflow, type AnyWorkflowDefinition } from "../../workflow/definitions";
import { checkReplay } from "../../workflow/replay-check";
import {
  feeV1,
  feeV2,
  feeV3,
  overdue,
  resumable,
  resumableFlow,
  timeoutSteps,
  unstartedFlow,
} from "../fixtures/timeouts";
import { eventsOf, expectGapless, types } from "../support/history";
import { start } from "../support/command-bodies";

const log = createLogger("silent");

/** One partition's decisions, and a restart: a new state restored from the history so far. */
function harness(workflows: AnyWorkflowDefinition[], cacheSize?: number) {
  const registry = new Registry(workflows, timeoutSteps);
  const fresh = () => new PartitionState(0, registry, log, { executionCacheSize: cacheSize });
  let state = fresh();
  const history: HistoryEvent[] = [];
  const tasks: StepTask[] = [];
  const cancels: StepCancel[] = [];
  const take = () => {
    const out = state.takeDecisions();
    history.push(...out.events);
    tasks.push(...out.tasks.map((t) => t.task));
    cancels.push(...out.cancels.map((c) => c.cancel));
    return out.events;
  };
  return {
    history,
    tasks,
    cancels,
    async apply(workflowId: string, body: CommandBody, at: number) {
      const command: Command = { workflowId, sentAt: at, body };
      await state.apply(command, at);
      return take();
    },
    async fire(at: number) {
      await state.fireDue(at);
      return take();
    },
    restart() {
      state = fresh();
      for (const event of history) state.restore(event);
    },
  };
}

const started = (stepSeq: number, attempt: number): CommandBody => ({
  type: "ReportStepStarted",
  stepSeq,
  attempt,
  workerId: "w1",
  startedAt: 0,
});
const heartbeat = (stepSeq: number, attempt: number, details: unknown): CommandBody => ({
  type: "ReportStepHeartbeat",
  stepSeq,
  attempt,
  workerId: "w1",
  details: details === undefined ? null : JSON.stringify(details),
});

describe("execution timeout", () => {
  it("fails the run at its deadline, also after a restart", async () => {
    const h = harness([overdue, resumableFlow]);
    await h.apply("o1", start("overdue"), 1000);
    expect(eventsOf(h.history, "WorkflowStarted")[0]!.body.executionDeadline).toBe(1500);
    h.restart();
    expect(await h.fire(1499)).toEqual([]);
    const events = await h.fire(1500);
    expect(events.map((e) => e.body)).toEqual([
      {
        type: "WorkflowFailed",
        error: expect.objectContaining({ code: "WORKFLOW_TIMEOUT", terminal: true }) as unknown,
      },
    ]);
    // The sleep's timer, an hour later, finds the run closed.
    expect(await h.fire(1000 + 3600_000)).toEqual([]);
  });

  it("says which timeout, how long, from when and when it passed", async () => {
    const h = harness([overdue]);
    await h.apply("o2", start("overdue"), Date.parse("2026-01-01T10:00:00.000Z"));
    const started = eventsOf(h.history, "WorkflowStarted")[0]!.body;
    expect(started.executionTimeoutMs).toBe(500);
    const [failed] = await h.fire(Date.parse("2026-01-01T10:00:01.000Z"));
    expect((failed!.body as { error: { message: string } }).error.message).toBe(
      "workflow o2 timed out: it was still open when its execution timeout (executionTimeoutMs) " +
        "of 500 ms passed at 2026-01-01T10:00:00.500Z, counted from its start at 2026-01-01T10:00:00.000Z",
    );
    // Runs recorded before history v8 know their deadline only.
    expect(
      executionTimeoutMessage({
        workflowId: "old",
        executionDeadline: Date.parse("2026-01-01T12:00:00.000Z"),
        executionTimeoutMs: null,
        startedAt: 0,
      }),
    ).toBe(
      "workflow old timed out: it was still open at its execution deadline, 2026-01-01T12:00:00.000Z",
    );
    expect(
      [500, 45_000, 30 * 60_000, 6.5 * 3600_000, 2 * 86_400_000 + 4 * 3600_000].map(plainDuration),
    ).toEqual(["500 ms", "45 s", "30 min", "6 h 30 min", "2 d 4 h"]);
  });

  it("tells the worker of a step still running when the run times out", async () => {
    const bounded = defineWorkflow(
      "bounded",
      (ctx) => ctx.step(resumable, { key: "b1", pages: 1 }),
      { executionTimeoutMs: 1000 },
    );
    const h = harness([bounded]);
    await h.apply("b1", start("bounded"), 0);
    await h.apply("b1", started(1, 1), 10);
    await h.apply("b1", heartbeat(1, 1, { page: 1 }), 300);
    await h.apply("b1", heartbeat(1, 1, { page: 2 }), 600);
    await h.apply("b1", heartbeat(1, 1, { page: 3 }), 900);
    expect(types(await h.fire(1000))).toEqual(["WorkflowFailed"]);
    expect(h.cancels).toMatchObject([{ workflowId: "b1", stepSeq: 1, attempt: 1 }]);
    // Its report, when it comes, finds the run closed.
    expect(
      await h.apply(
        "b1",
        { type: "ReportStepCompleted", stepSeq: 1, attempt: 1, workerId: "w1", result: "{}" },
        1100,
      ),
    ).toEqual([]);
  });

  it("has no deadline when the workflow sets none", async () => {
    const h = harness([resumableFlow]);
    await h.apply("n1", start("resumableFlow", { key: "n1", pages: 1 }), 0);
    expect(eventsOf(h.history, "WorkflowStarted")[0]!.body.executionDeadline).toBeNull();
  });
});

describe("heartbeat timeout", () => {
  it("restarts at each heartbeat, outlives a restart, and hands the last details to the retry", async () => {
    const h = harness([resumableFlow]);
    await h.apply("h1", start("resumableFlow", { key: "h1", pages: 5 }), 0);
    expect(h.tasks[0]).toMatchObject({ attempt: 1, heartbeatTimeoutMs: 400 });
    await h.apply("h1", started(1, 1), 10);
    await h.apply("h1", heartbeat(1, 1, { page: 1 }), 200);
    // A beat without details keeps the last ones.
    await h.apply("h1", heartbeat(1, 1, undefined), 300);
    // Due at 410 from the start, but the heartbeats moved it to 700.
    expect(await h.fire(410)).toEqual([]);
    h.restart();
    expect(await h.fire(699)).toEqual([]);
    const failed = await h.fire(700);
    expect(failed.map((e) => e.body)).toMatchObject([
      {
        type: "StepFailed",
        attempt: 1,
        workerId: null,
        willRetry: true,
        error: { code: "STEP_HEARTBEAT_TIMEOUT" },
      },
      { type: "StepRetryScheduled", nextAttempt: 2 },
    ]);
    // The worker of the lost attempt, if it still runs, is told to stop it.
    expect(h.cancels).toMatchObject([{ workflowId: "h1", stepSeq: 1, attempt: 1 }]);
    await h.fire(710);
    expect(h.tasks.at(-1)).toMatchObject({
      attempt: 2,
      heartbeatTimeoutMs: 400,
      lastHeartbeatDetails: '{"page":1}',
    });
    // A late heartbeat of the lost attempt records nothing.
    expect(await h.apply("h1", heartbeat(1, 1, { page: 9 }), 720)).toEqual([]);
    expectGapless(h.history);
  });

  it("takes an attempt whose worker never heartbeats as lost from its start", async () => {
    const h = harness([resumableFlow]);
    await h.apply("h2", start("resumableFlow", { key: "h2", pages: 1 }), 0);
    await h.apply("h2", started(1, 1), 100);
    expect(await h.fire(499)).toEqual([]);
    expect(types(await h.fire(500))).toEqual(["StepFailed", "StepRetryScheduled"]);
    await h.fire(510);
    expect(h.tasks.at(-1)).toMatchObject({ attempt: 2, lastHeartbeatDetails: null });
  });
});

describe("schedule-to-start timeout", () => {
  it("fails an attempt no worker started, retries it, and drops a start that comes late", async () => {
    const h = harness([unstartedFlow]);
    await h.apply("s1", start("unstartedFlow"), 0);
    h.restart();
    expect(await h.fire(299)).toEqual([]);
    expect((await h.fire(300)).map((e) => e.body)).toMatchObject([
      { type: "StepFailed", attempt: 1, error: { code: "STEP_SCHEDULE_TO_START_TIMEOUT" } },
      { type: "StepRetryScheduled", nextAttempt: 2 },
    ]);
    expect(h.cancels).toMatchObject([{ stepSeq: 1, attempt: 1 }]);
    expect(await h.apply("s1", started(1, 1), 305)).toEqual([]);
    await h.fire(310);
    // Attempt 2 starts in time: its schedule-to-start timer is gone, only the run's own remain.
    await h.apply("s1", started(1, 2), 400);
    expect(await h.fire(10_000)).toEqual([]);
  });
});

describe("ctx.patched", () => {
  /** A run of the fee workflow recorded under `code`, up to its signal wait. */
  async function recorded(code: AnyWorkflowDefinition, workflowId: string, cacheSize?: number) {
    const h = harness([code], cacheSize);
    await h.apply(workflowId, start("fee", { cents: 1000 }), 0);
    return h;
  }

  it.each([undefined, 0])(
    "replays the old branch of a run recorded without the marker (execution cache %p)",
    async (cacheSize) => {
      const old = await recorded(feeV1, "f1");
      const after = harness([feeV2], cacheSize);
      after.history.push(...old.history);
      after.restart();
      await after.apply(
        "f1",
        { type: "SignalWorkflow", signalName: "confirmed", payload: "{}", requestId: "s" },
        10,
      );
      expect(types(after.history)).not.toContain("PatchMarked");
      expect(after.tasks.map((t) => t.stepName)).toEqual(["flatFee"]);
      const fresh = await recorded(feeV2, "f2", cacheSize);
      await fresh.apply(
        "f2",
        { type: "SignalWorkflow", signalName: "confirmed", payload: "{}", requestId: "s" },
        10,
      );
      expect(types(fresh.history).slice(0, 3)).toEqual([
        "WorkflowStarted",
        "PatchMarked",
        "SignalWaitStarted",
      ]);
      expect(fresh.tasks.map((t) => t.stepName)).toEqual(["percentFee"]);
    },
  );

  it("deprecatePatch records the marker and replays patched runs both ways, not runs from before the patch", async () => {
    const v2 = await recorded(feeV2, "d1");
    const v3 = await recorded(feeV3, "d2");
    expect(eventsOf(v3.history, "PatchMarked").map((e) => e.body)).toEqual([
      { type: "PatchMarked", patchId: "percent-fee", afterEvents: 1, deprecated: true },
    ]);
    // Code rolled back to patched() still takes the new branch of a run made by feeV3, and
    // feeV3 replays feeV2's new runs.
    expect((await checkReplay(feeV2, v3.history)).ok).toBe(true);
    expect((await checkReplay(feeV3, v2.history)).ok).toBe(true);
    // What deprecatePatch is not for: a run from before the patch has no old branch to take.
    const old = await recorded(feeV1, "d3");
    await old.apply(
      "d3",
      { type: "SignalWorkflow", signalName: "confirmed", payload: "{}", requestId: "s" },
      5,
    );
    expect((await checkReplay(feeV3, old.history)).divergence?.found).toBe('step "percentFee"');
  });

  it("records a patch taken in the decision that ends the run, so the run replays", async () => {
    const quick = defineWorkflow("quick", (ctx) =>
      Promise.resolve(ctx.patched("fast-path") ? "new" : "old"),
    );
    const h = harness([quick]);
    await h.apply("q1", start("quick"), 0);
    expect(h.history.map((e) => e.body.type)).toEqual([
      "WorkflowStarted",
      "PatchMarked",
      "WorkflowCompleted",
    ]);
    expect(eventsOf(h.history, "WorkflowCompleted")[0]!.body.result).toBe('"new"');
    expect((await checkReplay(quick, h.history)).ok).toBe(true);
  });

  it("refuses a patch ID that is not a non-empty string", async () => {
    const h = harness([
      { ...feeV2, fn: (ctx) => Promise.resolve(ctx.patched("")) } as AnyWorkflowDefinition,
    ]);
    await h.apply("e1", start("fee"), 0);
    expect(eventsOf(h.history, "WorkflowFailed")[0]!.body.error.message).toMatch(
      /ctx.patched: the patch ID must be a non-empty string/,
    );
  });
});
