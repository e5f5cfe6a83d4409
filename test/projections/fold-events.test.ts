/** The pure part of the projector: folding events into rows, and the JSON rows travel as. */
import { createLogger } from "../../core/logger";
import { foldEvents } from "../../projections/fold-events";
import type { ProjectionChanges, RunState } from "../../projections/rows";
import { pgSafeJson, RawJson, recordsetJson } from "../../projections/sql-json";
import type { EventBody, HistoryEvent } from "../../schemas/types";

const log = createLogger("silent");
const T0 = Date.parse("2025-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();

/** Builds a run's history: event n is at T0 + n seconds. */
function history(workflowId: string, bodies: EventBody[]): HistoryEvent[] {
  return bodies.map((body, i) => ({ workflowId, seq: i + 1, at: T0 + (i + 1) * 1000, body }));
}

const started: EventBody = {
  type: "WorkflowStarted",
  workflowType: "wf",
  input: '{"a":1}',
  idempotencyKey: null,
  requestId: null,
};

/** What the projector reads back from weft_runs for the next batch (through JSON, as jsonb does). */
function stateAfter(changes: ProjectionChanges, workflowId: string, before?: RunState): RunState {
  const row = [...changes.runInserts, ...changes.runRestarts, ...changes.runUpdates].find(
    (r) => r.workflow_id === workflowId,
  );
  if (!row) return before!;
  const runNumber = "run_number" in row ? row.run_number : (before?.runNumber ?? 1);
  return JSON.parse(
    JSON.stringify({
      workflowId,
      status: row.status,
      lastSeq: row.last_seq,
      waitingOn: row.waiting_on,
      bufferedSignals: row.buffered_signals,
      blockedCode: row.blocked_code,
      blockedReason: row.blocked_reason,
      runNumber,
    }),
  ) as RunState;
}

/** Folds the events cut into batches at the given indexes, carrying state between them. */
function foldInBatches(events: HistoryEvent[], cuts: number[]): ProjectionChanges[] {
  const out: ProjectionChanges[] = [];
  let state: RunState | undefined;
  const bounds = [0, ...cuts, events.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const batch = events.slice(bounds[i], bounds[i + 1]);
    const loaded = new Map(state ? [[state.workflowId, state]] : []);
    const changes = foldEvents(loaded, batch, log);
    state = stateAfter(changes, events[0]!.workflowId, state);
    out.push(changes);
  }
  return out;
}

describe("foldEvents", () => {
  it("hands the row to a run continued as new, however history is cut into batches", () => {
    const events = history("c1", [
      started,
      { type: "TimerStarted", timerSeq: 1, durationMs: 10, dueAt: T0 + 12_000 },
      { type: "TimerFired", timerSeq: 1 },
      { type: "WorkflowContinuedAsNew", input: '{"a":2}' },
      { ...started, input: '{"a":2}' },
      { type: "TimerStarted", timerSeq: 5, durationMs: 10, dueAt: T0 + 16_000 },
      { type: "TimerFired", timerSeq: 5 },
      { type: "WorkflowCompleted", result: '"done"' },
    ]);
    for (let cut = 1; cut < events.length; cut++) {
      // The row as the tables hold it after both batches: each batch's row over the last.
      const row: Record<string, unknown> = {};
      for (const changes of foldInBatches(events, [cut])) {
        for (const r of [...changes.runInserts, ...changes.runRestarts, ...changes.runUpdates])
          Object.assign(row, JSON.parse(JSON.stringify(r)));
      }
      expect({ cut, ...row }).toMatchObject({
        cut,
        status: "completed",
        input: { text: '{"a":2}' },
        result: { text: '"done"' },
        run_number: 2,
        run_start_seq: 5,
        last_seq: 8,
        started_at: iso(5000),
        closed_at: iso(8000),
        waiting_on: [],
      });
    }
  });

  it("hands a closed run's row to a run started above its seqs (its ID's retention passed), but not an open run's", () => {
    const first = history("r1", [started, { type: "WorkflowCompleted", result: '"one"' }]);
    // The decider forgot the first run's last seq: the next begins above a partition's floor.
    const later: HistoryEvent[] = [
      { workflowId: "r1", seq: 40, at: T0 + 40_000, body: { ...started, input: '{"a":9}' } },
      {
        workflowId: "r1",
        seq: 41,
        at: T0 + 41_000,
        body: { type: "WorkflowCompleted", result: '"two"' },
      },
    ];
    for (const cut of [2, 3]) {
      const row: Record<string, unknown> = {};
      for (const changes of foldInBatches([...first, ...later], [cut]))
        for (const r of [...changes.runInserts, ...changes.runRestarts, ...changes.runUpdates])
          Object.assign(row, JSON.parse(JSON.stringify(r)));
      expect({ cut, ...row }).toMatchObject({
        cut,
        status: "completed",
        input: { text: '{"a":9}' },
        result: { text: '"two"' },
        run_number: 2,
        run_start_seq: 40,
        last_seq: 41,
      });
    }
    // A WorkflowStarted above an open run's events is no new run of it.
    const open = history("r2", [started]);
    const changes = foldEvents(new Map(), [...open, { ...later[0]!, workflowId: "r2" }], log);
    expect(changes.runRestarts).toEqual([]);
    expect(changes.runInserts).toHaveLength(1);
    expect(changes.runInserts[0]).toMatchObject({ run_number: 1, run_start_seq: 1 });
  });

  it("keeps the latest run state on the row, sets it only in batches that changed it, and starts a continued run without one", () => {
    const events = history("s", [
      started,
      { type: "StateUpdated", state: '{"approvals":0}' },
      { type: "SignalReceived", signalName: "approve", payload: "{}", requestId: "r1" },
      { type: "StateUpdated", state: '{"approvals":1}' },
      { type: "TimerStarted", timerSeq: 2, durationMs: 10, dueAt: T0 + 99_000 },
      { type: "StateUpdated", state: "null" },
      { type: "WorkflowContinuedAsNew", input: "{}" },
      started,
    ]);
    const [first, second, third, fourth] = foldInBatches(events, [2, 4, 5]);
    expect(first!.runInserts[0]!.state).toEqual(RawJson.from('{"approvals":0}'));
    expect(second!.runUpdates[0]).toMatchObject({
      state: RawJson.from('{"approvals":1}'),
      state_set: 1,
    });
    // A batch without a StateUpdated leaves the column as it is.
    expect(third!.runUpdates[0]).toMatchObject({ state: null, state_set: 0 });
    // JSON null is a state like any other: set, not left alone.
    expect(fourth!.runRestarts[0]!.state).toBeNull();
    const whole = foldEvents(new Map(), events.slice(0, 6), log);
    expect(whole.runInserts[0]!.state).toEqual(RawJson.from("null"));
    expect(whole.events.map((e) => e.type)).toContain("StateUpdated");
  });

  it("keeps a run whose cancel was requested running while it cleans up, then closes it cancelled", () => {
    const events = history("x", [
      started,
      { type: "SignalWaitStarted", waitSeq: 1, signalName: "go", timeoutMs: null, dueAt: null },
      { type: "WorkflowCancelRequested", reason: "stop", requestId: "c1" },
      {
        type: "StepScheduled",
        stepSeq: 2,
        stepName: "refund",
        attempt: 1,
        input: "{}",
        taskQueue: "default",
        timeoutMs: null,
        retryPolicy: "{}",
      },
      { type: "StepCompleted", stepSeq: 2, attempt: 1, workerId: "w", result: "{}" },
      { type: "WorkflowCancelled", reason: "stop", requestId: "c1" },
    ]);
    const [cleaning, closed] = foldInBatches(events, [4]);
    expect(cleaning!.runInserts[0]).toMatchObject({ status: "running", last_seq: 4 });
    expect(cleaning!.events.map((e) => e.type)).toContain("WorkflowCancelRequested");
    expect(closed!.runUpdates[0]).toMatchObject({ status: "cancelled", last_seq: 6 });
  });

  it("gives a buffered signal to the next wait for it, across batches", () => {
    const events = history("w1", [
      started,
      { type: "SignalReceived", signalName: "go", payload: '{"by":"x"}', requestId: "r1" },
      { type: "SignalWaitStarted", waitSeq: 1, signalName: "go", timeoutMs: null, dueAt: null },
      { type: "WorkflowCompleted", result: '"done"' },
    ]);
    const [first, second] = foldInBatches(events, [2]);
    expect(first!.signalInserts).toEqual([
      expect.objectContaining({ seq: 2, name: "go", wait_seq: null, received_at: iso(2000) }),
    ]);
    expect(first!.runInserts[0]!.buffered_signals).toEqual([{ seq: 2, name: "go" }]);
    expect(second!.signalUpdates).toEqual([{ workflow_id: "w1", seq: 2, wait_seq: 1 }]);
    expect(second!.runUpdates[0]).toMatchObject({
      status: "completed",
      waiting_on: [],
      buffered_signals: [],
      closed_at: iso(4000),
      last_seq: 4,
    });
  });

  it("cancels a signal timeout when the signal comes first, and fires it otherwise", () => {
    const answered = foldEvents(
      new Map(),
      history("w2", [
        started,
        {
          type: "SignalWaitStarted",
          waitSeq: 1,
          signalName: "go",
          timeoutMs: 5000,
          dueAt: T0 + 7000,
        },
        { type: "SignalReceived", signalName: "go", payload: "1", requestId: "r" },
      ]),
      log,
    );
    expect(answered.timerUpserts).toEqual([
      {
        workflow_id: "w2",
        kind: "signal_timeout",
        seq: 1,
        attempt: 0,
        due_at: iso(7000),
        fired_at: null,
        status: "cancelled",
      },
    ]);
    expect(answered.signalInserts[0]!.wait_seq).toBe(1);
    expect(answered.runInserts[0]!.waiting_on).toEqual([]);

    const timedOut = foldInBatches(
      history("w3", [
        started,
        {
          type: "SignalWaitStarted",
          waitSeq: 1,
          signalName: "go",
          timeoutMs: 5000,
          dueAt: T0 + 7000,
        },
        { type: "SignalWaitTimedOut", waitSeq: 1, signalName: "go" },
      ]),
      [2],
    );
    expect(timedOut[0]!.runInserts[0]!.waiting_on).toEqual([
      { kind: "signal", waitSeq: 1, signalName: "go", since: iso(2000), dueAt: iso(7000) },
    ]);
    expect(timedOut[1]!.timerUpdates).toEqual([
      {
        workflow_id: "w3",
        kind: "signal_timeout",
        seq: 1,
        attempt: 0,
        fired_at: iso(3000),
        status: "fired",
      },
    ]);
  });

  it("ends what a cancelled scope held: its attempt shows cancelled, its timers cancelled, and the run waits on none of it", () => {
    const events = history("sc", [
      started,
      {
        type: "StepScheduled",
        stepSeq: 1,
        stepName: "work",
        attempt: 1,
        input: "{}",
        taskQueue: "default",
        timeoutMs: 60_000,
        retryPolicy: "{}",
      },
      { type: "TimerStarted", timerSeq: 2, durationMs: 86_400_000, dueAt: T0 + 86_403_000 },
      {
        type: "SignalWaitStarted",
        waitSeq: 3,
        signalName: "go",
        timeoutMs: 9000,
        dueAt: T0 + 13_000,
      },
      {
        type: "ChildWorkflowScheduled",
        childSeq: 4,
        childWorkflowId: "sc/4",
        workflowType: "ship",
        input: "{}",
        parentClosePolicy: "cancel",
      },
      { type: "StepStarted", stepSeq: 1, attempt: 1, workerId: "w1", startedAt: T0 + 6000 },
      { type: "StepCancelled", stepSeq: 1, attempt: 1, reason: "stop" },
      { type: "TimerCancelled", timerSeq: 2, reason: "stop" },
      { type: "SignalWaitCancelled", waitSeq: 3, signalName: "go", reason: "stop" },
      {
        type: "ChildWorkflowCancelRequested",
        childSeq: 4,
        childWorkflowId: "sc/4",
        reason: "stop",
      },
    ]);
    // Before the cancels, the run waits on each of the four, the child named.
    const before = foldInBatches(events, [6]);
    expect(before[0]!.runInserts[0]!.waiting_on.map((w) => w.kind)).toEqual([
      "step",
      "timer",
      "signal",
      "child",
    ]);
    expect(before[0]!.runInserts[0]!.waiting_on[3]).toEqual({
      kind: "child",
      childSeq: 4,
      childWorkflowId: "sc/4",
      workflowType: "ship",
      since: iso(5000),
    });
    for (let cut = 1; cut < events.length; cut++) {
      const batches = foldInBatches(events, [cut]);
      const last = batches[batches.length - 1]!;
      const row = [...last.runInserts, ...last.runUpdates].find((r) => r.workflow_id === "sc");
      expect({ cut, waiting: row?.waiting_on }).toEqual({ cut, waiting: [] });
      const attempt = batches.flatMap((b) => [
        ...b.attemptInserts.filter((a) => a.step_seq === 1),
        ...b.attemptUpdates.filter((a) => a.step_seq === 1),
      ]);
      expect(attempt.at(-1)).toMatchObject({ status: "cancelled", finished_at: iso(7000) });
      const timers = batches.flatMap((b) => [...b.timerUpserts, ...b.timerUpdates]);
      const finalStatus = (kind: string, seq: number) =>
        timers.filter((t) => t.kind === kind && t.seq === seq).at(-1)?.status;
      expect(finalStatus("step_timeout", 1)).toBe("cancelled");
      expect(finalStatus("sleep", 2)).toBe("cancelled");
      expect(finalStatus("signal_timeout", 3)).toBe("cancelled");
    }
  });

  it("records a timed-out attempt, its retry and the next attempt", () => {
    const events = history("w4", [
      started,
      {
        type: "StepScheduled",
        stepSeq: 1,
        stepName: "slow",
        attempt: 1,
        input: "{}",
        taskQueue: "default",
        timeoutMs: 300,
        retryPolicy: "{}",
      },
      { type: "StepStarted", stepSeq: 1, attempt: 1, workerId: "w-a", startedAt: 0 },
      {
        type: "StepFailed",
        stepSeq: 1,
        attempt: 1,
        workerId: null,
        error: {
          name: "StepTimeoutError",
          message: "late",
          stack: null,
          terminal: false,
          code: "STEP_TIMEOUT",
        },
        willRetry: true,
      },
      { type: "StepRetryScheduled", stepSeq: 1, nextAttempt: 2, delayMs: 50, dueAt: T0 + 4050 },
      {
        type: "StepScheduled",
        stepSeq: 1,
        stepName: "slow",
        attempt: 2,
        input: "{}",
        taskQueue: "default",
        timeoutMs: 300,
        retryPolicy: "{}",
      },
    ]);
    // Whole, and cut after the start: the attempt row comes out the same either way.
    const whole = foldEvents(new Map(), events, log);
    expect(whole.attemptInserts[0]).toMatchObject({
      attempt: 1,
      status: "timed_out",
      worker_id: "w-a",
      started_at: iso(3000),
      finished_at: iso(4000),
      duration_ms: 1000,
    });
    expect(whole.timerUpserts.map((t) => [t.kind, t.attempt, t.status, t.fired_at])).toEqual([
      ["step_timeout", 1, "fired", iso(4000)],
      ["retry", 2, "fired", iso(6000)],
    ]);
    expect(whole.runInserts[0]!.waiting_on).toEqual([
      expect.objectContaining({ kind: "step", attempt: 2, state: "scheduled", since: iso(6000) }),
    ]);
    const [, later] = foldInBatches(events, [3]);
    expect(later!.attemptUpdates[0]).toMatchObject({
      attempt: 1,
      status: "timed_out",
      worker_id: null,
      started_at: null,
      finished_at: iso(4000),
    });
    expect(later!.timerUpdates).toEqual([
      expect.objectContaining({ kind: "step_timeout", attempt: 1, status: "fired" }),
    ]);
  });

  it("records an attempt lost to its heartbeat timeout as timed out, and leaves heartbeats and patches to weft_events", () => {
    const scheduled: EventBody = {
      type: "StepScheduled",
      stepSeq: 1,
      stepName: "resumable",
      attempt: 1,
      input: "{}",
      taskQueue: "default",
      timeoutMs: 60_000,
      retryPolicy: "{}",
      heartbeatTimeoutMs: 400,
      scheduleToStartTimeoutMs: null,
    };
    const events = history("w5", [
      started,
      { type: "PatchMarked", patchId: "p", afterEvents: 1, deprecated: false },
      scheduled,
      { type: "StepStarted", stepSeq: 1, attempt: 1, workerId: "w-a", startedAt: 0 },
      { type: "StepHeartbeatRecorded", stepSeq: 1, attempt: 1, details: '{"page":2}' },
      {
        type: "StepFailed",
        stepSeq: 1,
        attempt: 1,
        workerId: null,
        error: {
          name: "StepHeartbeatTimeoutError",
          message: "lost",
          stack: null,
          terminal: false,
          code: "STEP_HEARTBEAT_TIMEOUT",
        },
        willRetry: false,
      },
    ]);
    const whole = foldEvents(new Map(), events, log);
    expect(whole.attemptInserts.map((a) => [a.attempt, a.status, a.worker_id])).toEqual([
      [1, "timed_out", "w-a"],
    ]);
    // Its start-to-close timer did not fire: the heartbeat timeout ended the attempt.
    expect(whole.timerUpserts.map((t) => [t.kind, t.status])).toEqual([
      ["step_timeout", "cancelled"],
    ]);
    expect(whole.runInserts[0]!.waiting_on).toEqual([]);
    // The same rows however the events are cut into batches.
    const [, later] = foldInBatches(events, [4]);
    expect(later!.attemptUpdates[0]).toMatchObject({ attempt: 1, status: "timed_out" });
    expect(later!.timerUpdates).toEqual([
      expect.objectContaining({ kind: "step_timeout", status: "cancelled" }),
    ]);
  });

  it("unblocks a blocked run when its code makes progress, and cancels what is open at close", () => {
    const changes = foldEvents(
      new Map(),
      history("w5", [
        started,
        { type: "WorkflowBlocked", code: "DETERMINISM_VIOLATION", reason: "diverged" },
        { type: "SignalReceived", signalName: "x", payload: "null", requestId: "r" },
        { type: "TimerStarted", timerSeq: 1, durationMs: 60_000, dueAt: T0 + 64_000 },
        { type: "WorkflowCancelled", reason: "enough", requestId: "c" },
      ]),
      log,
    );
    expect(changes.runInserts[0]).toMatchObject({
      status: "cancelled",
      blocked_code: null,
      error: { code: "WORKFLOW_CANCELLED", reason: "enough" },
      waiting_on: [],
    });
    expect(changes.timerUpserts[0]).toMatchObject({
      kind: "sleep",
      status: "cancelled",
      fired_at: null,
    });

    const blocked = foldEvents(
      new Map(),
      history("w6", [
        started,
        { type: "WorkflowBlocked", code: "DETERMINISM_VIOLATION", reason: "diverged" },
        { type: "SignalReceived", signalName: "x", payload: "null", requestId: "r" },
      ]),
      log,
    );
    // A signal is not progress of the code: the run is still blocked.
    expect(blocked.runInserts[0]).toMatchObject({ status: "blocked", blocked_reason: "diverged" });
  });

  it("skips events already projected and events of a run never started", () => {
    const events = history("w7", [started, { type: "TimerFired", timerSeq: 1 }]);
    const loaded = new Map<string, RunState>([
      [
        "w7",
        {
          workflowId: "w7",
          status: "running",
          lastSeq: 2,
          waitingOn: [],
          bufferedSignals: [],
          blockedCode: null,
          blockedReason: null,
          runNumber: 1,
        },
      ],
    ]);
    expect(foldEvents(loaded, events, log).events).toEqual([]);
    const orphan = foldEvents(new Map(), [{ ...events[1]!, workflowId: "nobody" }], log);
    expect(orphan.events).toEqual([]);
    expect(orphan.runUpdates).toEqual([]);
  });
});

describe("rows as JSON for PostgreSQL", () => {
  it("replaces what jsonb refuses, and nothing else", () => {
    expect(pgSafeJson(JSON.stringify("a\u0000b"))).toBe('"a\\ufffdb"');
    expect(pgSafeJson(JSON.stringify("\ud800x"))).toBe('"\\ufffdx"');
    expect(pgSafeJson(JSON.stringify("x\udc00"))).toBe('"x\\ufffd"');
    // An escaped pair is fine, and so is a backslash followed by the letters u0000.
    expect(pgSafeJson('"\\ud83d\\ude00"')).toBe('"\\ud83d\\ude00"');
    expect(pgSafeJson(JSON.stringify("\\u0000"))).toBe('"\\\\u0000"');
    expect(JSON.parse(pgSafeJson(JSON.stringify({ k: "\u0000" })))).toEqual({ k: "\ufffd" });
  });

  it("splices payload JSON in as a value, and keeps text that is not JSON as a string", () => {
    const json = recordsetJson([
      { id: 1, payload: RawJson.from('{"n": [1, 2]}'), text: "é\u0000", none: null },
      { id: 2, payload: RawJson.from("not json"), text: undefined, none: 0 },
    ]);
    expect(JSON.parse(json)).toEqual([
      { id: 1, payload: { n: [1, 2] }, text: "é\ufffd", none: null },
      { id: 2, payload: "not json", text: null, none: 0 },
    ]);
  });
});
