import { createLogger } from "../../core/logger";
import { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { Command, CommandBody, HistoryEvent } from "../../schemas/types";
import { defineWorkflow, type AnyWorkflowDefinition } from "../../workflow/definitions";
import {
  approval,
  countdown,
  echo,
  parallel,
  slow,
  tally,
  timedOut,
  versionedV1,
  versionedV2,
} from "../fixtures/workflows";
import { checkReplay } from "../../workflow/replay-check";
import { expectGapless, types } from "../support/history";
import { completed, start } from "../support/command-bodies";

const log = createLogger("silent");

function harness(
  workflows: AnyWorkflowDefinition[] = [approval, parallel, versionedV1],
  cacheSize?: number,
) {
  const state = new PartitionState(0, new Registry(workflows, [echo, slow]), log, {
    executionCacheSize: cacheSize,
  });
  const history: HistoryEvent[] = [];
  const tasks: { stepSeq: number; attempt: number; stepName: string }[] = [];
  let clock = 1_000;
  const apply = async (workflowId: string, body: CommandBody, at = (clock += 10)) => {
    const command: Command = { workflowId, sentAt: at, body };
    await state.apply(command, at);
    const out = state.takeDecisions();
    history.push(...out.events);
    tasks.push(...out.tasks.map((t) => t.task));
    return out;
  };
  const fire = async (at: number) => {
    await state.fireDue(at);
    const out = state.takeDecisions();
    history.push(...out.events);
    tasks.push(...out.tasks.map((t) => t.task));
    return out;
  };
  return { state, history, tasks, apply, fire };
}

/** A step result that carries its attempt's start (the worker held its started report). */
const quick = (stepSeq: number, result: unknown, attempt: number, startedAt: number) => ({
  type: "ReportStepCompleted" as const,
  stepSeq,
  attempt,
  workerId: "w1",
  result: JSON.stringify(result),
  startedAt,
});

describe("PartitionState decisions", () => {
  it("records parallel steps and completes when all results arrive in any order", async () => {
    const h = harness();
    await h.apply("p1", start("parallel"));
    expect(types(h.history)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepScheduled",
      "StepScheduled",
    ]);
    await h.apply("p1", completed(3, { n: 3 }));
    await h.apply("p1", completed(1, { n: 1 }));
    await h.apply("p1", completed(2, { n: 2 }));
    const last = h.history[h.history.length - 1]!;
    expect(last.body).toEqual({ type: "WorkflowCompleted", result: "[1,2,3]" });
    expectGapless(h.history);
  });

  it("applies a step result once and records a duplicate as ignored", async () => {
    const h = harness();
    await h.apply("p2", start("parallel"));
    await h.apply("p2", completed(1, { n: 1 }));
    await h.apply("p2", completed(1, { n: 99 }));
    await h.apply("p2", completed(2, { n: 2 }, 7));
    const ignored = h.history.filter((e) => e.body.type === "StepResultIgnored").map((e) => e.body);
    expect(ignored).toEqual([
      expect.objectContaining({ stepSeq: 1, reason: "attempt 1 already completed" }),
      expect.objectContaining({ stepSeq: 2, reason: "stale attempt 7: the current attempt is 1" }),
    ]);
    expect(h.history.filter((e) => e.body.type === "StepCompleted")).toHaveLength(1);
  });

  it("records a start that came with its result first, and only for the attempt waiting to start", async () => {
    const h = harness();
    await h.apply("q1", start("parallel"));
    // Step 1: a quick step, its start carried by its result.
    await h.apply("q1", quick(1, { n: 1 }, 1, 42));
    // Step 2: its started report went first; a start on the result is not recorded again.
    await h.apply("q1", {
      type: "ReportStepStarted",
      stepSeq: 2,
      attempt: 1,
      workerId: "w1",
      startedAt: 50,
    });
    await h.apply("q1", quick(2, { n: 2 }, 1, 50));
    // Step 3: a stale attempt's result with a start: ignored, no start recorded.
    await h.apply("q1", quick(3, { n: 9 }, 4, 60));
    // Step 3 fails, its start with the failure.
    await h.apply("q1", {
      type: "ReportStepFailed",
      stepSeq: 3,
      attempt: 1,
      workerId: "w2",
      error: { name: "E", message: "m", stack: null, terminal: true, code: null },
      startedAt: 70,
    });
    const steps = h.history
      .filter((e) => e.body.type.startsWith("Step"))
      .map((e) => e.body)
      .filter((b) => b.type !== "StepScheduled");
    expect(steps).toEqual([
      { type: "StepStarted", stepSeq: 1, attempt: 1, workerId: "w1", startedAt: 42 },
      expect.objectContaining({ type: "StepCompleted", stepSeq: 1, attempt: 1 }),
      { type: "StepStarted", stepSeq: 2, attempt: 1, workerId: "w1", startedAt: 50 },
      expect.objectContaining({ type: "StepCompleted", stepSeq: 2, attempt: 1 }),
      expect.objectContaining({ type: "StepResultIgnored", stepSeq: 3, attempt: 4 }),
      { type: "StepStarted", stepSeq: 3, attempt: 1, workerId: "w2", startedAt: 70 },
      expect.objectContaining({ type: "StepFailed", stepSeq: 3, attempt: 1, workerId: "w2" }),
    ]);
    expectGapless(h.history);
    // A replay of that history gives the same decisions.
    expect((await checkReplay(parallel, h.history)).ok).toBe(true);
  });

  it("ignores, and records, a result that arrives after the decider timed the attempt out", async () => {
    const h = harness([timedOut]);
    await h.apply("t1", start("timedOut"), 0);
    await h.apply(
      "t1",
      { type: "ReportStepStarted", stepSeq: 1, attempt: 1, workerId: "w1", startedAt: 5 },
      10,
    );
    await h.fire(310);
    await h.apply("t1", completed(1, { late: true }), 2000);
    const tail = h.history.slice(-3).map((e) => e.body);
    expect(tail[0]).toMatchObject({
      type: "StepFailed",
      attempt: 1,
      willRetry: true,
      error: { code: "STEP_TIMEOUT" },
    });
    expect(tail[1]).toMatchObject({ type: "StepRetryScheduled", nextAttempt: 2, delayMs: 50 });
    expect(tail[2]).toMatchObject({
      type: "StepResultIgnored",
      stepSeq: 1,
      attempt: 1,
      outcome: "completed",
    });
    expect(h.tasks.map((t) => t.attempt)).toEqual([1]);
    await h.fire(400);
    expect(h.tasks.map((t) => t.attempt)).toEqual([1, 2]);
  });

  it("deduplicates a start with the same workflow ID", async () => {
    const h = harness();
    await h.apply("same", start("approval", { timeoutMs: 1000 }));
    const before = h.history.length;
    const out = await h.apply("same", start("approval", { timeoutMs: 5 }));
    expect(out.events).toHaveLength(0);
    expect(h.history).toHaveLength(before);
  });

  it("times a signal wait out once, and a signal that comes first wins", async () => {
    const h = harness();
    await h.apply("s1", start("approval", { timeoutMs: 500 }), 0);
    await h.apply("s2", start("approval", { timeoutMs: 500 }), 0);
    await h.apply(
      "s2",
      {
        type: "SignalWorkflow",
        signalName: "approve",
        payload: '{"approvedBy":"ann"}',
        requestId: "x",
      },
      100,
    );
    await h.fire(499);
    expect(h.history.filter((e) => e.body.type === "SignalWaitTimedOut")).toHaveLength(0);
    await h.fire(600);
    await h.fire(700);
    const s1 = h.history.filter((e) => e.workflowId === "s1");
    const s2 = h.history.filter((e) => e.workflowId === "s2");
    expect(types(s1)).toEqual([
      "WorkflowStarted",
      "SignalWaitStarted",
      "SignalWaitTimedOut",
      "WorkflowCompleted",
    ]);
    expect(s1[3]!.body).toEqual({ type: "WorkflowCompleted", result: '{"approved":false}' });
    expect(types(s2)).toEqual([
      "WorkflowStarted",
      "SignalWaitStarted",
      "SignalReceived",
      "WorkflowCompleted",
    ]);
  });

  describe("signal request IDs", () => {
    const add = (n: number, requestId: string): CommandBody => ({
      type: "SignalWorkflow",
      signalName: "add",
      payload: JSON.stringify({ n }),
      requestId,
    });
    const done: CommandBody = {
      type: "SignalWorkflow",
      signalName: "add",
      payload: '{"done":true}',
      requestId: "done",
    };
    const received = (history: HistoryEvent[]) =>
      history.filter((e) => e.body.type === "SignalReceived").map((e) => e.body);

    it("records a signal repeated with the same request ID once, and the code sees it once", async () => {
      const h = harness([tally]);
      await h.apply("t1", start("tally"));
      await h.apply("t1", add(5, "req-1"));
      const repeat = await h.apply("t1", add(5, "req-1"));
      expect(repeat.events).toEqual([]);
      await h.apply("t1", done);
      expect(received(h.history)).toEqual([
        expect.objectContaining({ payload: '{"n":5}', requestId: "req-1" }),
        expect.objectContaining({ requestId: "done" }),
      ]);
      expect(h.history.at(-1)!.body).toEqual({
        type: "WorkflowCompleted",
        result: '{"seen":[5]}',
      });
      expectGapless(h.history);
    });

    it("records two signals with different request IDs, even with the same payload", async () => {
      const h = harness([tally]);
      await h.apply("t2", start("tally"));
      await h.apply("t2", add(5, "req-1"));
      await h.apply("t2", add(5, "req-2"));
      await h.apply("t2", done);
      expect(received(h.history).map((b) => (b as { requestId: string }).requestId)).toEqual([
        "req-1",
        "req-2",
        "done",
      ]);
      expect(h.history.at(-1)!.body).toEqual({
        type: "WorkflowCompleted",
        result: '{"seen":[5,5]}',
      });
    });

    it("still knows the request IDs after a restore from history", async () => {
      const h = harness([tally]);
      await h.apply("t3", start("tally"));
      await h.apply("t3", add(1, "req-1"));
      await h.apply("t3", add(2, "req-2"));
      const restored = new PartitionState(0, new Registry([tally], [echo]), log);
      for (const e of h.history) restored.restore(e);
      for (const body of [add(1, "req-1"), add(2, "req-2"), add(3, "req-3"), done]) {
        await restored.apply({ workflowId: "t3", sentAt: 0, body }, 5000);
      }
      const events = restored.takeDecisions().events;
      // Only req-3 and done are new; the code saw 1 and 2 before the restore, and only then.
      expect(received(events).map((b) => (b as { requestId: string }).requestId)).toEqual([
        "req-3",
        "done",
      ]);
      expectGapless([...h.history, ...events]);
      expect(events.at(-1)!.body).toEqual({
        type: "WorkflowCompleted",
        result: '{"seen":[1,2,3]}',
      });
    });

    it("records the cancel's request ID, and a retried cancel finds the run closed", async () => {
      const h = harness([tally]);
      await h.apply("t4", start("tally"));
      const cancel: CommandBody = { type: "CancelWorkflow", reason: "no", requestId: "c-1" };
      await h.apply("t4", cancel);
      const repeat = await h.apply("t4", cancel);
      expect(repeat.events).toEqual([]);
      expect(
        h.history.filter((e) => e.body.type === "WorkflowCancelled").map((e) => e.body),
      ).toEqual([{ type: "WorkflowCancelled", reason: "no", requestId: "c-1" }]);
    });
  });

  describe("cancel requests", () => {
    const cancel = (requestId: string, reason = "stop"): CommandBody => ({
      type: "CancelWorkflow",
      reason,
      requestId,
    });
    /** Waits for "go" and an echo in parallel; on a cancel, cleans up with two echo steps. */
    const saga = defineWorkflow("saga", async (ctx) => {
      try {
        await Promise.all([ctx.waitForSignal("go"), ctx.step(echo, { work: true })]);
        return "done";
      } catch (error) {
        await ctx.nonCancellable(async () => {
          await ctx.step(echo, { undo: 1 });
          await ctx.step(echo, { undo: 2 });
        });
        // Outside the scope again: a new operation is refused at once, and never recorded.
        const late = await ctx.sleep(1000).then(
          () => "slept",
          (err: unknown) => (err as Error).name,
        );
        if (ctx.isCancelRequested() && late === "WorkflowCancelledError") throw error;
        return late;
      }
    });
    /** Catches the cancel and completes with what it undid. */
    const forgiving = defineWorkflow("forgiving", async (ctx) => {
      try {
        await ctx.waitForSignal("go");
        return "went";
      } catch {
        return ctx.nonCancellable(() => ctx.step(echo, { undone: true }));
      }
    });

    it("rejects the pending operations, runs the cleanup inside nonCancellable, and closes cancelled when the code rethrows", async () => {
      const h = harness([saga]);
      await h.apply("s1", start("saga"));
      expect(types(h.history)).toEqual(["WorkflowStarted", "SignalWaitStarted", "StepScheduled"]);
      const decided = await h.apply("s1", cancel("c-1", "changed my mind"));
      expect(types(h.history).slice(3)).toEqual(["WorkflowCancelRequested", "StepScheduled"]);
      // The echo the code no longer awaits is to be aborted; the cleanup's step is not.
      expect(decided.cancels).toEqual([
        {
          queue: "default",
          cancel: {
            workflowId: "s1",
            stepSeq: 2,
            attempt: 1,
            reason: "changed my mind",
            requestId: "c-1",
          },
        },
      ]);
      // The step that was running when the cancel came completes: recorded, nothing more.
      await h.apply("s1", completed(2, { work: true }));
      expect(types(h.history).slice(5)).toEqual(["StepCompleted"]);
      // A second cancel while cleaning up (another request ID) is not recorded again.
      const again = await h.apply("s1", cancel("c-2"));
      expect(again.events).toEqual([]);
      expect(again.cancels).toEqual([]);
      await h.apply("s1", completed(3, { undo: 1 }));
      await h.apply("s1", completed(4, { undo: 2 }));
      expect(types(h.history).slice(6)).toEqual([
        "StepCompleted",
        "StepScheduled",
        "StepCompleted",
        "WorkflowCancelled",
      ]);
      expect(h.history.at(-1)!.body).toEqual({
        type: "WorkflowCancelled",
        reason: "changed my mind",
        requestId: "c-1",
      });
      expect(h.tasks.map((t) => t.stepSeq)).toEqual([2, 3, 4]);
      expectGapless(h.history);
      // Rebuilt from history (a restart), the run decides the same: replay is deterministic.
      const replay = await checkReplay(saga, h.history);
      expect(replay.divergence).toBeNull();
    });

    it("tells the worker of the abandoned step also when the execution cache keeps no run", async () => {
      const h = harness([saga], 0);
      await h.apply("s2", start("saga"));
      const decided = await h.apply("s2", cancel("c-1"));
      expect(decided.cancels.map((c) => c.cancel.stepSeq)).toEqual([2]);
      expect(types(decided.events)).toEqual(["WorkflowCancelRequested", "StepScheduled"]);
    });

    it("lets a step made inside nonCancellable finish when the cancel comes, then cancels at the next await", async () => {
      const careful = defineWorkflow("careful", async (ctx) => {
        await ctx.nonCancellable(() => ctx.step(echo, { settle: true }));
        await ctx.sleep(60_000);
        return "slept";
      });
      const h = harness([careful]);
      await h.apply("n1", start("careful"));
      const decided = await h.apply("n1", cancel("c-1"));
      expect(types(decided.events)).toEqual(["WorkflowCancelRequested"]);
      expect(decided.cancels).toEqual([]);
      await h.apply("n1", completed(1, { settle: true }));
      // The sleep after the scope is refused as it is called: never recorded.
      expect(types(h.history)).toEqual([
        "WorkflowStarted",
        "StepScheduled",
        "WorkflowCancelRequested",
        "StepCompleted",
        "WorkflowCancelled",
      ]);
      expect((await checkReplay(careful, h.history)).ok).toBe(true);
    });

    it("completes a run whose code catches the cancel and returns a value", async () => {
      const h = harness([forgiving]);
      await h.apply("f1", start("forgiving"));
      await h.apply("f1", cancel("c-1"));
      await h.apply("f1", completed(2, { undone: true }));
      expect(types(h.history)).toEqual([
        "WorkflowStarted",
        "SignalWaitStarted",
        "WorkflowCancelRequested",
        "StepScheduled",
        "StepCompleted",
        "WorkflowCompleted",
      ]);
      // The rejected wait takes no signal; one sent now is recorded and buffered.
      expect((await checkReplay(forgiving, h.history)).ok).toBe(true);
    });

    it("fails a run whose cleanup fails after a cancel, with the cleanup's error", async () => {
      const h = harness([forgiving]);
      await h.apply("f2", start("forgiving"));
      await h.apply("f2", cancel("c-1"));
      await h.apply("f2", {
        type: "ReportStepFailed",
        stepSeq: 2,
        attempt: 1,
        workerId: "w1",
        error: {
          name: "TerminalError",
          message: "ledger down",
          stack: null,
          terminal: true,
          code: "TERMINAL",
        },
      });
      const last = h.history.at(-1)!.body;
      expect(last.type).toBe("WorkflowFailed");
      expect((last as { error: { message: string } }).error.message).toMatch(/ledger down/);
    });

    it("closes a blocked run at once, also after its cancel was requested", async () => {
      const h = harness([versionedV1]);
      await h.apply("b1", start("versioned"));
      const v2 = new PartitionState(0, new Registry([versionedV2], [echo]), log);
      for (const e of h.history) v2.restore(e);
      await v2.apply({ workflowId: "b1", sentAt: 0, body: cancel("c-1") }, 5000);
      const first = v2.takeDecisions().events;
      expect(types(first)).toEqual(["WorkflowCancelRequested", "WorkflowBlocked"]);
      await v2.apply({ workflowId: "b1", sentAt: 0, body: cancel("c-2", "give up") }, 5001);
      expect(v2.takeDecisions().events.map((e) => e.body)).toEqual([
        { type: "WorkflowCancelled", reason: "give up", requestId: "c-2" },
      ]);
    });
  });

  it("rebuilds the same state from history and continues where it stopped", async () => {
    const h = harness();
    await h.apply("r1", start("parallel"));
    await h.apply("r1", completed(1, { n: 1 }));
    const restored = new PartitionState(0, new Registry([parallel], [echo]), log);
    for (const e of h.history) restored.restore(e);
    await restored.apply({ workflowId: "r1", sentAt: 0, body: completed(2, { n: 2 }) }, 5000);
    await restored.apply({ workflowId: "r1", sentAt: 0, body: completed(3, { n: 3 }) }, 5001);
    const events = restored.takeDecisions().events;
    expect(types(events)).toEqual(["StepCompleted", "StepCompleted", "WorkflowCompleted"]);
    expect(events.map((e) => e.seq)).toEqual([6, 7, 8]);
  });

  it("parks a run whose code diverged from history, naming both commands, and leaves history alone", async () => {
    const h = harness([versionedV1]);
    await h.apply("v1", start("versioned"));
    await h.apply("v1", completed(1, { step: "a" }));
    const recorded = [...h.history];
    const v2 = new PartitionState(0, new Registry([versionedV2], [echo]), log);
    for (const e of recorded) v2.restore(e);
    await v2.apply(
      {
        workflowId: "v1",
        sentAt: 0,
        body: { type: "SignalWorkflow", signalName: "continue", payload: "null", requestId: "q" },
      },
      9000,
    );
    const events = v2.takeDecisions().events;
    expect(types(events)).toEqual(["SignalReceived", "WorkflowBlocked"]);
    const blocked = events[1]!.body as { code: string; reason: string };
    expect(blocked.code).toBe("DETERMINISM_VIOLATION");
    expect(blocked.reason).toContain('history has step "echo"');
    expect(blocked.reason).toContain('the code now asks for step "flaky"');
  });

  it("blocks a run of an unknown type instead of failing the batch", async () => {
    const h = harness();
    await h.apply("u1", start("noSuchWorkflow"));
    expect(types(h.history)).toEqual(["WorkflowStarted", "WorkflowBlocked"]);
    expect(h.history[1]!.body).toMatchObject({ code: "UNKNOWN_WORKFLOW_TYPE" });
  });

  it("gives workflow code a replay-stable clock and random numbers", async () => {
    const seen: unknown[] = [];
    const probe = defineWorkflow("probe", async (ctx) => {
      seen.push([ctx.now(), ctx.random(), ctx.uuid()]);
      await ctx.step(echo, {});
      return null;
    });
    const h = harness([probe]);
    await h.apply("rnd", start("probe"), 4242);
    const again = new PartitionState(0, new Registry([probe], [echo]), log);
    for (const e of h.history) again.restore(e);
    await again.apply({ workflowId: "rnd", sentAt: 0, body: completed(1, {}) }, 9999);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(seen[0]);
    expect((seen[0] as unknown[])[0]).toBe(4242);
  });

  it("keeps a bounded number of live executions and replays evicted runs on their next event", async () => {
    let bodies = 0;
    const counted = defineWorkflow("counted", async (ctx) => {
      bodies++;
      const a = await ctx.step<{ n: number }>(echo, { n: 1 });
      const b = await ctx.step<{ n: number }>(echo, { n: a.n + 1 });
      return b.n;
    });
    const h = harness([counted], 1);
    await h.apply("c1", start("counted"));
    await h.apply("c2", start("counted"));
    expect(bodies).toBe(2);
    await h.apply("c1", completed(1, { n: 1 })); // c1 was evicted by c2: replayed
    await h.apply("c2", completed(1, { n: 1 })); // and c2 by c1
    await h.apply("c2", completed(2, { n: 2 })); // cached: no replay
    await h.apply("c1", completed(2, { n: 2 }));
    expect(bodies).toBe(5);
    for (const id of ["c1", "c2"]) {
      const run = h.history.filter((e) => e.workflowId === id);
      expectGapless(run);
      expect(run.at(-1)!.body).toEqual({ type: "WorkflowCompleted", result: "2" });
    }
  });

  it("continues a run as new: the next run holds only its own events and numbers its steps on", async () => {
    const h = harness([countdown]);
    await h.apply("c1", start("countdown", { n: 2 }));
    // Run 1: step 1 scheduled. Its report closes the run and starts run 2 in one decision.
    const first = await h.apply("c1", completed(1, { n: 2 }));
    expect(types(first.events)).toEqual([
      "StepCompleted",
      "WorkflowContinuedAsNew",
      "WorkflowStarted",
      "StepScheduled",
    ]);
    const run2 = h.state.runs.get("c1")!;
    expect(run2.startSeq).toBe(first.events[2]!.seq);
    expect(run2.events().map((e) => e.seq)).toEqual([run2.startSeq, run2.startSeq + 1]);
    // Run 2's step takes the number after run 1's history, not 1 again.
    const scheduled = first.events[3]!.body as { stepSeq: number };
    expect(scheduled.stepSeq).toBe(run2.startSeq);
    // A late report for run 1's step is no step of run 2's.
    const late = await h.apply("c1", completed(1, { n: 2 }));
    expect(types(late.events)).toEqual(["StepResultIgnored"]);
    // The closed run's changelog record gave way to the next run's; no closed marker.
    expect(first.changes.map((c) => c.kind)).toEqual(["run"]);
    await h.apply("c1", completed(scheduled.stepSeq, { n: 1 }));
    const run3 = h.state.runs.get("c1")!;
    const last = await h.apply("c1", completed(run3.startSeq, { n: 0 }));
    expect(types(last.events)).toEqual(["StepCompleted", "WorkflowCompleted"]);
    expectGapless(h.history);
    expect(h.state.runs.size).toBe(0);
    expect(h.state.closed.get("c1")).toMatchObject({
      status: "completed",
      lastSeq: h.history.length,
    });
  });

  it("blocks a run that continues as new again and again without waiting on anything", async () => {
    const spin = defineWorkflow("spin", (ctx, n: number) => ctx.continueAsNew(n + 1));
    const h = harness([spin]);
    await h.apply("s1", start("spin", 0));
    expect(types(h.history).filter((t) => t === "WorkflowContinuedAsNew")).toHaveLength(100);
    expect(h.history.at(-1)!.body).toMatchObject({
      type: "WorkflowBlocked",
      code: "CONTINUE_AS_NEW_LOOP",
    });
    expectGapless(h.history);
  });
});
