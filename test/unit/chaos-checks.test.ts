/** The chaos suite's checker and figures on made-up logs: each rule catches what it names. */
import { runChecks, type CheckRow, type Evidence, type SignalSend } from "../../chaos/checks";
import { diagnose } from "../../chaos/diagnose";
import { partitionsFromLog } from "../../chaos/faults";
import { brokerFailover, deciderFailover, percentile } from "../../chaos/figures";
import type { EventBody, HistoryEvent } from "../../schemas/types";

const T0 = 1_700_000_000_000;

function history(
  id: string,
  bodies: (EventBody & { at?: number; seq?: number })[],
): HistoryEvent[] {
  return bodies.map(({ at, seq, ...body }, i) => ({
    workflowId: id,
    seq: seq ?? i + 1,
    at: at ?? T0 + i * 10,
    body: body,
  }));
}

const started: EventBody = {
  type: "WorkflowStarted",
  workflowType: "chaosChain",
  input: "{}",
  idempotencyKey: null,
  requestId: null,
};
const scheduled = (stepSeq: number, attempt = 1): EventBody => ({
  type: "StepScheduled",
  stepSeq,
  stepName: "chaosWork",
  attempt,
  input: "{}",
  taskQueue: "default",
  timeoutMs: null,
  retryPolicy: "{}",
});
const completed = (stepSeq: number): EventBody => ({
  type: "StepCompleted",
  stepSeq,
  attempt: 1,
  workerId: "w",
  result: "{}",
});
const done: EventBody = { type: "WorkflowCompleted", result: "{}" };

function evidence(parts: Partial<Evidence>): Evidence {
  return {
    starts: [],
    signals: [],
    histories: new Map(),
    requestIds: true,
    readModel: new Map(),
    startCommands: new Map(),
    committed: new Map(),
    roleStarts: 7,
    roleExits: [],
    deadLetters: [],
    ...parts,
  };
}

function row(rows: CheckRow[], prefix: string): CheckRow {
  const found = rows.find((r) => r.check.startsWith(prefix));
  if (!found) throw new Error(`no row ${prefix}`);
  return found;
}

const good = history("good", [started, scheduled(2), completed(2), done]);

describe("chaos checks", () => {
  it("passes a run that did everything once and in order", () => {
    const rows = runChecks(
      evidence({
        starts: [
          { workflowId: "good", type: "chaosChain", sentAt: T0, ackAt: T0, api: 0, tries: 1 },
        ],
        histories: new Map([["good", good]]),
        readModel: new Map([["good", { status: "completed", lastSeq: 4 }]]),
      }),
    );
    for (const r of rows) expect([r.check, r.violations]).toEqual([r.check, 0]);
  });

  it("finds an acknowledged start with no history, and says where its command sits", () => {
    const rows = runChecks(
      evidence({
        starts: [
          { workflowId: "lost", type: "chaosChain", sentAt: T0, ackAt: T0, api: 1, tries: 1 },
        ],
        startCommands: new Map([["lost", { partition: 3, offset: 2964n }]]),
        committed: new Map([[3, 2995n]]),
        readModel: new Map([["lost", { status: "pending", lastSeq: 0 }]]),
      }),
    );
    const ran = row(rows, "acknowledged start ran");
    expect(ran.violations).toBe(1);
    expect(ran.examples[0]).toContain("command at p3@2964, deciders committed p3@2995");
    expect(ran.note).toContain("skipped 1");
  });

  it("finds open runs, gaps, duplicate completions and events after the close", () => {
    const histories = new Map([
      ["open", history("open", [started, scheduled(2)])],
      [
        "gap",
        history("gap", [
          started,
          { ...scheduled(2), seq: 3 },
          { ...completed(2), seq: 4 },
          { ...done, seq: 5 },
        ]),
      ],
      ["twice", history("twice", [started, scheduled(2), completed(2), completed(2), done])],
      ["after", history("after", [started, done, scheduled(3)])],
    ]);
    const rows = runChecks(evidence({ histories, readModel: undefined }));
    expect(row(rows, "run closed").violations).toBe(1);
    expect(row(rows, "run closed").examples[0]).toContain("StepScheduled");
    expect(row(rows, "history gapless").violations).toBe(2);
    expect(row(rows, "history gapless").note).toMatch(
      /gap 1.*event after close 1|event after close 1.*gap 1/,
    );
    // "after" closed with step #3 scheduled and never completed: that counts too.
    expect(row(rows, "one StepCompleted").violations).toBe(2);
    expect(row(rows, "one StepCompleted").note).toContain("completed twice 1");
    expect(row(rows, "read model").violations).toBe("not checked");
  });

  it("finds a timer that fired early, one that fired twice and a retry that never ran", () => {
    const timer = (seq: number, dueAt: number): EventBody => ({
      type: "TimerStarted",
      timerSeq: seq,
      durationMs: 1000,
      dueAt,
    });
    const fired = (seq: number, at: number) => ({ type: "TimerFired" as const, timerSeq: seq, at });
    const histories = new Map([
      ["early", history("early", [started, timer(2, T0 + 5000), fired(2, T0 + 4000), done])],
      [
        "twice",
        history("twice", [started, timer(2, T0 + 50), fired(2, T0 + 60), fired(2, T0 + 70), done]),
      ],
      [
        "retry",
        history("retry", [
          started,
          scheduled(2),
          { type: "StepRetryScheduled", stepSeq: 2, nextAttempt: 2, delayMs: 10, dueAt: T0 + 30 },
          { type: "WorkflowCancelled", reason: null, requestId: null },
        ]),
      ],
    ]);
    const timers = row(runChecks(evidence({ histories })), "timer fired once");
    expect(timers.violations).toBe(3);
    expect(timers.note).toContain("fired early 1");
    expect(timers.note).toContain("fired twice 1");
    expect(timers.note).toContain("never fired 1");
  });

  it("finds a signal acknowledged before the deadline that lost to the timer, and a doubled retry", () => {
    const wait: EventBody = {
      type: "SignalWaitStarted",
      waitSeq: 2,
      signalName: "go",
      timeoutMs: 5000,
      dueAt: T0 + 5000,
    };
    const received = (marker: string): EventBody => ({
      type: "SignalReceived",
      signalName: "go",
      payload: JSON.stringify({ marker }),
      requestId: "r",
    });
    const send = (workflowId: string, marker: string, acks: number[], calls = 1): SignalSend => ({
      workflowId,
      waitSeq: 2,
      dueAt: T0 + 5000,
      marker,
      requestId: "r",
      plan: "late",
      seenAt: T0 + 20,
      waitAt: T0 + 10,
      calls,
      acks,
    });
    const histories = new Map([
      [
        "beaten",
        history("beaten", [
          started,
          wait,
          { type: "SignalWaitTimedOut", waitSeq: 2, signalName: "go", at: T0 + 5001 },
          received("m1"),
          done,
        ]),
      ],
      ["doubled", history("doubled", [started, wait, received("m2"), received("m2"), done])],
      [
        "late",
        history("late", [
          started,
          wait,
          { type: "SignalWaitTimedOut", waitSeq: 2, signalName: "go", at: T0 + 5001 },
          done,
        ]),
      ],
    ]);
    const signals = [
      send("beaten", "m1", [T0 + 4600]),
      send("doubled", "m2", [T0 + 100, T0 + 900], 2),
      // Acknowledged after the deadline: the timeout branch is right.
      send("late", "m3", [T0 + 5200]),
    ];
    const rows = runChecks(evidence({ histories, signals }));
    const beforeDeadline = row(rows, "signal acked before");
    expect(beforeDeadline.count).toBe(2);
    expect(beforeDeadline.violations).toBe(1);
    expect(beforeDeadline.examples[0]).toContain(
      "beaten (acked 400 ms before the deadline; timed out",
    );
    const retried = row(rows, "signal retried");
    expect(retried.violations).toBe(1);
    expect(retried.examples[0]).toContain("recorded 2×");
    expect(
      row(runChecks(evidence({ histories, signals, requestIds: false })), "signal retried")
        .violations,
    ).toBe("not checked");
  });

  it("holds the read model to history", () => {
    const rows = runChecks(
      evidence({
        histories: new Map([["good", good]]),
        readModel: new Map([["good", { status: "running", lastSeq: 3 }]]),
      }),
    );
    expect(row(rows, "read model").examples[0]).toContain(
      "read model running/#3, history completed/#4",
    );
  });
});

describe("chaos figures", () => {
  const times = new Map([
    [0, [T0, T0 + 100, T0 + 9000, T0 + 9100]],
    [1, [T0, T0 + 200, T0 + 3000, T0 + 3100]],
  ]);

  it("times a decider kill to the first new event on the slowest of its partitions", () => {
    const f = deciderFailover(
      [
        { at: T0 + 500, kind: "role", target: "decider-1", partitions: [0, 1] },
        { at: T0 + 500, kind: "role", target: "decider-2", partitions: [] },
        { at: T0 + 9500, kind: "role", target: "decider-2", partitions: [0] },
        { at: T0 + 500, kind: "role", target: "worker-1" },
      ],
      times,
    );
    expect(f).toEqual({ measured: 2, delaysMs: [8500], never: 1, unmeasured: 1 });
  });

  it("finds the longest history pause after a broker kill, cut at the end of the load", () => {
    const [b] = brokerFailover(
      [{ at: T0 + 150, kind: "broker", target: "broker-2" }],
      times,
      T0 + 9050,
    );
    expect(b).toMatchObject({ resumeMs: 8850, longestPauseMs: 8850, pausePartition: 0 });
  });

  it("takes nearest-rank percentiles", () => {
    expect(percentile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 0.99)).toBe(5);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  it("reads a decider's partitions from its log when the group cannot say", () => {
    const log = [
      "Weft is running",
      JSON.stringify({ msg: "partition assigned", partition: 0 }),
      JSON.stringify({ msg: "partition assigned", partition: 1 }),
      JSON.stringify({ msg: "partition revoked", partition: 0 }),
      JSON.stringify({ msg: "partition assigned", partition: 3 }),
    ].join("\n");
    expect(partitionsFromLog(log)).toEqual([1, 3]);
    expect(partitionsFromLog("nothing")).toBeNull();
  });

  it("says a start the deciders committed past was skipped", () => {
    const lines = diagnose(
      [{ workflowId: "lost", type: "chaosChain", sentAt: T0, ackAt: T0, api: 0, tries: 1 }],
      new Map(),
      {
        starts: new Map([["lost", { partition: 2, offset: 40n, timestamp: T0 }]]),
        reports: new Map(),
        tasks: new Map(),
        committed: new Map([["c.commands:2", 90n]]),
        commandsTopic: "c.commands",
      },
    );
    expect(lines[0]).toContain("never ran: starts: 1 in command partition 2, offsets 40–40");
    expect(lines[0]).toContain("deciders committed p2@90 (past all of them)");
  });
});
