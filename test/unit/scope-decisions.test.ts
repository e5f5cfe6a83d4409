/**
 * Cancellation scopes in the decision core, with no broker: what a `scope.cancel()` records
 * (once per operation), what it stops (a worker's attempt by notice, a timer that must never
 * fire and leaves the timer queue), what it leaves alone (a nonCancellable scope inside, the
 * rest of the run), and that replay holds the code to the cancels history recorded.
 */
import { createLogger } from "../../core/logger";
import { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { Command, CommandBody, HistoryEvent } from "../../schemas/types";
import { defineWorkflow } from "../../workflow/definitions";
import { WorkflowExecution } from "../../workflow/execution";
import { checkReplay } from "../../workflow/replay-check";
import { longWork, napOrWake, scopeSteps, scopeWorkflows, stopWork } from "../fixtures/scopes";
import { count, eventsOf, expectGapless, types } from "../support/history";
import { completed, signal, start } from "../support/command-bodies";

function harness(cacheSize?: number) {
  const state = new PartitionState(
    0,
    new Registry(scopeWorkflows, scopeSteps),
    createLogger("silent"),
    { executionCacheSize: cacheSize },
  );
  const history: HistoryEvent[] = [];
  const notices: { stepSeq: number; attempt: number; reason: string | null }[] = [];
  let clock = 1_000;
  const collect = () => {
    const out = state.takeDecisions();
    history.push(...out.events);
    notices.push(...out.cancels.map((c) => c.cancel));
    return out;
  };
  const apply = async (workflowId: string, body: CommandBody, at = (clock += 10)) => {
    const command: Command = { workflowId, sentAt: at, body };
    await state.apply(command, at);
    return collect();
  };
  const fire = async (at: number) => {
    clock = at;
    await state.fireDue(at);
    return collect();
  };
  return { state, history, notices, apply, fire };
}

const lastBody = (history: HistoryEvent[]) => history[history.length - 1]!.body;

describe("cancellation scopes in the decision core", () => {
  it.each([
    ["with the execution cache", undefined],
    ["replaying on every event", 0],
  ])(
    "cancels a running step once, tells its worker, ignores its late report (%s)",
    async (_, cache) => {
      const h = harness(cache);
      await h.apply("a", start("stopWork", { key: "a" }));
      await h.apply("a", {
        type: "ReportStepStarted",
        stepSeq: 1,
        attempt: 1,
        workerId: "w1",
        startedAt: 0,
      });
      await h.apply("a", signal("stop", { why: "enough" }));
      expect(types(h.history)).toEqual([
        "WorkflowStarted",
        "StepScheduled", // longWork, in the scope
        "SignalWaitStarted", // stop
        "StepStarted",
        "SignalReceived",
        "StepCancelled",
        "StepScheduled", // note, after the code caught the cancel
      ]);
      expect(eventsOf(h.history, "StepCancelled")[0]!.body).toEqual({
        type: "StepCancelled",
        stepSeq: 1,
        attempt: 1,
        reason: "enough",
      });
      // The worker that runs the attempt is told, once.
      expect(h.notices).toEqual([
        expect.objectContaining({
          stepSeq: 1,
          attempt: 1,
          reason: "its scope was cancelled: enough",
        }),
      ]);
      // Its failure after the abort is not applied: the step was cancelled for good.
      await h.apply("a", {
        type: "ReportStepFailed",
        stepSeq: 1,
        attempt: 1,
        workerId: "w1",
        error: {
          name: "StepCancelledError",
          message: "x",
          stack: null,
          terminal: false,
          code: "STEP_CANCELLED",
        },
      });
      expect(lastBody(h.history)).toMatchObject({
        type: "StepResultIgnored",
        stepSeq: 1,
        reason: "step 1 was cancelled with its scope",
      });
      expect(h.state.runs.get("a")!.steps.has(1)).toBe(false);
      await h.apply("a", completed(3, { code: "SCOPE_CANCELLED", reason: "enough" }));
      expect(lastBody(h.history)).toEqual({
        type: "WorkflowCompleted",
        result: JSON.stringify({
          cancelled: true,
          after: { code: "SCOPE_CANCELLED", reason: "enough" },
        }),
      });
      expect(count(h.history, "StepCancelled")).toBe(1);
      expectGapless(h.history);
      const replay = await checkReplay(stopWork, h.history);
      expect(replay.divergence).toBeNull();
    },
  );

  it("cancels a month's sleep: it leaves the timer queue and never fires", async () => {
    const h = harness();
    await h.apply("n", start("napOrWake"));
    expect(h.state.timers.size).toBe(1);
    await h.apply("n", signal("wake"));
    expect(types(h.history)).toEqual([
      "WorkflowStarted",
      "TimerStarted",
      "SignalWaitStarted",
      "SignalReceived",
      "TimerCancelled",
      "WorkflowCompleted",
    ]);
    expect(eventsOf(h.history, "TimerCancelled")[0]!.body).toEqual({
      type: "TimerCancelled",
      timerSeq: 1,
      reason: "woken",
    });
    expect(lastBody(h.history)).toEqual({ type: "WorkflowCompleted", result: '{"woken":true}' });
    expect(h.state.timers.size).toBe(0);
    const fired = await h.fire(1_000 + 31 * 24 * 3600_000);
    expect(fired.events).toEqual([]);
    expect((await checkReplay(napOrWake, h.history)).divergence).toBeNull();
  });

  it("takes a cancelled timer out of the queue of a run that stays open", async () => {
    const h = harness();
    await h.apply("x", start("nestedScopes"));
    // Two sleeps, then the signal wait; the outer cancel reaches the first sleep only.
    expect(h.state.timers.size).toBe(2);
    await h.apply("x", signal("go"));
    expect(types(h.history).slice(-2)).toEqual(["SignalReceived", "TimerCancelled"]);
    expect(eventsOf(h.history, "TimerCancelled")[0]!.body.timerSeq).toBe(1);
    expect(h.state.timers.size).toBe(1);
    expect([...h.state.runs.get("x")!.timers.keys()]).toEqual(["sleep:2:0"]);
    // The shielded sleep fires; the cancelled one does not.
    await h.fire(1_000 + 5_000);
    expect(eventsOf(h.history, "TimerFired").map((e) => e.body.timerSeq)).toEqual([2]);
    expect(JSON.parse((lastBody(h.history) as { result: string }).result)).toEqual({
      outcomes: ["SCOPE_CANCELLED", "ok"],
      innerSaw: true,
    });
  });

  it("lets a cancel of the run reach inside a scope, recorded as the run's cancel only", async () => {
    const h = harness();
    await h.apply("rc", start("scopeUnderRunCancel"));
    await h.apply("rc", { type: "CancelWorkflow", reason: "stop", requestId: "c1" });
    expect(types(h.history)).toEqual([
      "WorkflowStarted",
      "TimerStarted",
      "WorkflowCancelRequested",
      "WorkflowCompleted",
    ]);
    expect(JSON.parse((lastBody(h.history) as { result: string }).result)).toEqual({
      outcome: "WORKFLOW_CANCELLED",
      scopeSaw: true,
    });
  });

  it("shields with nonCancellable from a cancel of the run, inside and around a scope", async () => {
    const shielded = defineWorkflow("shielded", async (ctx) => {
      // A scope whose sleep is shielded: the run's cancel does not reach it.
      const outer = ctx.cancellable(() => ctx.nonCancellable(() => ctx.sleep(1_000)));
      // Cleanup with a scope of its own: only its own cancel reaches it.
      const cleanup = ctx.nonCancellable(async () => {
        const inner = ctx.cancellable(() => ctx.sleep(60_000));
        await ctx.waitForSignal("drop");
        inner.cancel("dropped");
        return inner.result().then(
          () => "slept",
          (error: Error & { code?: string }) => error.code,
        );
      });
      await outer.result();
      return { cleanup: await cleanup, runCancelled: ctx.isCancelRequested() };
    });
    const state = new PartitionState(
      0,
      new Registry([shielded], scopeSteps),
      createLogger("silent"),
    );
    const history: HistoryEvent[] = [];
    const step = async (run: () => Promise<unknown>) => {
      await run();
      history.push(...state.takeDecisions().events);
    };
    await step(() => state.apply({ workflowId: "s", sentAt: 0, body: start("shielded") }, 0));
    await step(() =>
      state.apply(
        {
          workflowId: "s",
          sentAt: 10,
          body: { type: "CancelWorkflow", reason: "stop", requestId: "c" },
        },
        10,
      ),
    );
    expect(types(history).slice(-1)).toEqual(["WorkflowCancelRequested"]);
    await step(() => state.apply({ workflowId: "s", sentAt: 20, body: signal("drop") }, 20));
    expect(eventsOf(history, "TimerCancelled").map((e) => e.body.timerSeq)).toEqual([2]);
    await step(() => state.fireDue(1_000));
    expect(types(history).slice(-2)).toEqual(["TimerFired", "WorkflowCompleted"]);
    expect(lastBody(history)).toEqual({
      type: "WorkflowCompleted",
      result: JSON.stringify({ cleanup: "SCOPE_CANCELLED", runCancelled: true }),
    });
    expect((await checkReplay(shielded, history)).divergence).toBeNull();
  });

  it("rejects a condition in a cancelled scope and cancels its timeout's timer", async () => {
    const waiting = defineWorkflow("conditionInScope", async (ctx) => {
      let ready = false;
      ctx.onSignal("ready", () => {
        ready = true;
      });
      const scope = ctx.cancellable(() => ctx.condition(() => ready, { timeoutMs: 5_000 }));
      await ctx.waitForSignal("give-up");
      scope.cancel("gave up");
      return scope.result().then(
        (held) => `held: ${held}`,
        (error: Error & { code?: string; operation?: string }) =>
          `${error.code} ${error.operation}`,
      );
    });
    const state = new PartitionState(
      0,
      new Registry([waiting], scopeSteps),
      createLogger("silent"),
    );
    const history: HistoryEvent[] = [];
    const apply = async (body: CommandBody, at: number) => {
      await state.apply({ workflowId: "c", sentAt: at, body }, at);
      history.push(...state.takeDecisions().events);
    };
    await apply(start("conditionInScope"), 0);
    expect(state.timers.size).toBe(1);
    await apply(signal("give-up"), 10);
    expect(types(history).slice(-3)).toEqual([
      "SignalReceived",
      "TimerCancelled",
      "WorkflowCompleted",
    ]);
    expect(lastBody(history)).toEqual({
      type: "WorkflowCompleted",
      result: JSON.stringify("SCOPE_CANCELLED condition"),
    });
    expect(state.timers.size).toBe(0);
    expect((await checkReplay(waiting, history)).divergence).toBeNull();
  });

  it("a step made in a scope already cancelled is refused at the call and not recorded", async () => {
    const late = defineWorkflow("lateInScope", async (ctx) => {
      const scope = ctx.cancellable(async (self) => {
        self.cancel("before the step");
        return ctx.step(longWork, { key: "never" });
      });
      return scope.result().then(
        () => "ran",
        (error: Error & { code?: string }) => `${error.code}: ${error.message}`,
      );
    });
    const state = new PartitionState(0, new Registry([late], scopeSteps), createLogger("silent"));
    await state.apply({ workflowId: "l", sentAt: 0, body: start("lateInScope") }, 0);
    const out = state.takeDecisions();
    expect(types(out.events)).toEqual(["WorkflowStarted", "WorkflowCompleted"]);
    expect(out.tasks).toEqual([]);
    expect(lastBody(out.events)).toEqual({
      type: "WorkflowCompleted",
      result: JSON.stringify(
        'SCOPE_CANCELLED: step "longWork" was cancelled with its scope: before the step',
      ),
    });
  });

  it("sends a child awaited in a cancelled scope its parent-close policy once, not again when the parent closes", async () => {
    const childInScope = defineWorkflow("childInScope", async (ctx) => {
      const scope = ctx.cancellable(() => ctx.child("napOrWake", {}));
      await ctx.waitForSignal("go");
      scope.cancel("no longer needed");
      return scope.result().then(
        () => "done",
        (error: Error & { code?: string }) => error.code,
      );
    });
    const state = new PartitionState(
      0,
      new Registry([childInScope, napOrWake], scopeSteps),
      createLogger("silent"),
    );
    const history: HistoryEvent[] = [];
    const apply = async (body: CommandBody, at: number) => {
      await state.apply({ workflowId: "cp", sentAt: at, body }, at);
      const out = state.takeDecisions();
      history.push(...out.events);
      return out.commands;
    };
    const [childStart] = await apply(start("childInScope"), 10);
    expect(childStart).toMatchObject({ workflowId: "cp/1", body: { type: "StartWorkflow" } });
    const sent = await apply(signal("go"), 20);
    expect(sent).toEqual([
      expect.objectContaining({
        workflowId: "cp/1",
        body: expect.objectContaining({
          type: "CancelWorkflow",
          terminate: false,
          reason:
            "parent workflow cp cancelled the scope that awaited it (parent-close policy: cancel)",
        }) as unknown,
      }),
    ]);
    expect(types(history).slice(-3)).toEqual([
      "SignalReceived",
      "ChildWorkflowCancelRequested",
      "WorkflowCompleted",
    ]);
    expect(lastBody(history)).toEqual({
      type: "WorkflowCompleted",
      result: JSON.stringify("SCOPE_CANCELLED"),
    });
    expect((await checkReplay(childInScope, history)).divergence).toBeNull();
  });

  it("a run blocked before its cancel was recorded replays, once fixed, with the cancel as its next decision", async () => {
    // napOrWake's history up to the wake signal, where code that could not replay blocked it.
    const at = 1_000;
    const history: HistoryEvent[] = [
      {
        type: "WorkflowStarted",
        workflowType: "napOrWake",
        input: "{}",
        idempotencyKey: null,
        requestId: "r",
      } as const,
      { type: "TimerStarted", timerSeq: 1, durationMs: 2_592_000_000, dueAt: at + 2_592_000_000 },
      { type: "SignalWaitStarted", waitSeq: 2, signalName: "wake", timeoutMs: null, dueAt: null },
      { type: "SignalReceived", signalName: "wake", payload: "{}", requestId: "s" },
      { type: "WorkflowBlocked", code: "NON_DETERMINISTIC_AWAIT", reason: "old code" },
      { type: "SignalReceived", signalName: "other", payload: "{}", requestId: "s2" },
    ].map((body, i) => ({ workflowId: "b", seq: i + 1, at, body }) as HistoryEvent);
    const execution = new WorkflowExecution(napOrWake, "b", "{}", at, 1);
    execution.replaying(history);
    await execution.begin();
    for (const event of history.slice(1)) await execution.deliver(event);
    expect(execution.divergence).toBeUndefined();
    expect(execution.newCommands()).toEqual([
      expect.objectContaining({ kind: "cancel", seq: 1, reason: "woken" }),
    ]);
  });

  it("replay blocks code that no longer makes a recorded cancel, and code that makes one history lacks", async () => {
    const h = harness();
    await h.apply("d", start("stopWork", { key: "d" }));
    await h.apply("d", signal("stop", { why: "now" }));
    await h.apply("d", completed(3, {}));
    expect(lastBody(h.history).type).toBe("WorkflowCompleted");
    // The same workflow without the cancel: history has one where the code makes none.
    const noCancel = defineWorkflow("stopWork", async (ctx, input: { key: string }) => {
      const work = ctx.cancellable(() => ctx.step(longWork, input));
      await ctx.waitForSignal("stop");
      return work.result();
    });
    const missing = await checkReplay(noCancel, h.history);
    expect(missing.divergence).toMatchObject({
      expected: 'cancel of step "longWork"',
      found: "nothing",
    });

    // A nap that woke by its timer (no cancel recorded), replayed by code that cancels it at
    // once: a cancel history does not hold.
    const n = harness();
    await n.apply("w", start("napOrWake"));
    await n.fire(1_000 + 31 * 24 * 3600_000);
    await n.apply("w", signal("wake"));
    expect(lastBody(n.history)).toEqual({ type: "WorkflowCompleted", result: '{"woken":false}' });
    expect(count(n.history, "TimerCancelled")).toBe(0);
    const eager = defineWorkflow("napOrWake", async (ctx) => {
      const nap = ctx.cancellable(() => ctx.sleep(30 * 24 * 3600_000));
      nap.cancel("at once");
      await ctx.waitForSignal("wake");
      return { woken: false };
    });
    const extra = await checkReplay(eager, n.history);
    expect(extra.divergence).toMatchObject({ expected: "no cancel", found: "cancel of wait" });
  });
});
