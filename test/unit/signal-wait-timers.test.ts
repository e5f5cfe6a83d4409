/**
 * A signal wait's timeout timer leaves the decider's queue when a signal satisfies the wait,
 * and never while the wait is open. The run's code is modelled here as the execution decides
 * (workflow/execution.ts): a signal goes to the oldest open wait of its name, else to a
 * handler, else to a buffer, and a wait that finds a buffered signal is satisfied at once and
 * records no timeout. Random programs of waits, signals, handlers, timeouts and cancels make
 * the history; the run's fold of it must keep the timer of every wait still open, and, when
 * no signal went to a handler or a buffer, hold exactly those timers.
 */
import fc from "fast-check";
import { Run, type TimerEntry } from "../../deciders/run";
import type { HistoryEvent } from "../../schemas/types";

type HistoryEventBody = HistoryEvent["body"];

type Action =
  | { kind: "wait"; name: string; timeout: boolean }
  | { kind: "signal"; name: string }
  | { kind: "handler"; name: string }
  | { kind: "timeout"; pick: number }
  | { kind: "cancel"; pick: number };

const NAMES = ["a", "b"];
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("wait" as const),
    name: fc.constantFrom(...NAMES),
    timeout: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("signal" as const), name: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant("handler" as const), name: fc.constantFrom(...NAMES) }),
  fc.record({ kind: fc.constant("timeout" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }),
);

interface OpenWait {
  seq: number;
  name: string;
  timeout: boolean;
}

/** Plays `actions` as the execution would, and folds the history it records into a run. */
function play(actions: readonly Action[]) {
  const run = new Run("wf", "flow", "null", 0);
  const queued = new Map<string, TimerEntry>();
  let seq = 0;
  const record = (body: HistoryEventBody) => {
    const event = { workflowId: "wf", seq: ++seq, at: 0, body };
    run.fold(
      event,
      (t) => queued.set(t.key, t),
      false,
      (t) => queued.delete(t.key),
    );
    return event.seq;
  };
  record({
    type: "WorkflowStarted",
    workflowType: "flow",
    input: "null",
    idempotencyKey: null,
    requestId: "r",
  });
  let open: OpenWait[] = [];
  const handlers = new Set<string>();
  const buffered = new Map<string, number>();
  let unmatched = false;
  for (const a of actions) {
    switch (a.kind) {
      case "wait": {
        const atOnce = (buffered.get(a.name) ?? 0) > 0;
        const waitSeq = seq + 1;
        record({
          type: "SignalWaitStarted",
          waitSeq,
          signalName: a.name,
          timeoutMs: a.timeout && !atOnce ? 1000 : null,
          dueAt: a.timeout && !atOnce ? 1000 : null,
        });
        if (atOnce) buffered.set(a.name, buffered.get(a.name)! - 1);
        else open.push({ seq: waitSeq, name: a.name, timeout: a.timeout });
        break;
      }
      case "signal": {
        record({ type: "SignalReceived", signalName: a.name, payload: "1", requestId: "" });
        const oldest = open.find((w) => w.name === a.name);
        if (oldest) open = open.filter((w) => w !== oldest);
        else {
          unmatched = true;
          if (!handlers.has(a.name)) buffered.set(a.name, (buffered.get(a.name) ?? 0) + 1);
        }
        break;
      }
      case "handler":
        // Signals buffered before the handler go to it (ctx.onSignal); history records nothing.
        handlers.add(a.name);
        buffered.delete(a.name);
        break;
      case "timeout": {
        const timed = open.filter((w) => w.timeout);
        const w = timed[a.pick % Math.max(1, timed.length)];
        if (!w) break;
        // The queue fired the timer: it is no longer there when the timeout is recorded.
        queued.delete(`signalTimeout:${w.seq}:0`);
        record({ type: "SignalWaitTimedOut", waitSeq: w.seq, signalName: w.name });
        open = open.filter((o) => o !== w);
        break;
      }
      case "cancel": {
        const w = open[a.pick % Math.max(1, open.length)];
        if (!w) break;
        record({ type: "SignalWaitCancelled", waitSeq: w.seq, signalName: w.name, reason: null });
        open = open.filter((o) => o !== w);
        break;
      }
    }
  }
  const held = [...run.timers.values()].filter((t) => t.kind === "signalTimeout").map((t) => t.seq);
  return { open, held, queued: [...queued.values()].map((t) => t.seq), unmatched };
}

it("keeps the timer of every open wait, and drops a satisfied wait's timer when history tells which", () => {
  fc.assert(
    fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
      const { open, held, queued, unmatched } = play(actions);
      const openTimed = open.filter((w) => w.timeout).map((w) => w.seq);
      expect(queued.sort()).toEqual(held.sort());
      for (const seq of openTimed) expect(held).toContain(seq);
      if (!unmatched) expect(held.sort()).toEqual(openTimed.sort());
    }),
    { numRuns: 2000 },
  );
});

it("drops the timeout timer of a wait a signal satisfied", () => {
  const { held, open } = play([
    { kind: "wait", name: "a", timeout: true },
    { kind: "wait", name: "a", timeout: true },
    { kind: "signal", name: "a" },
  ]);
  expect(open.map((w) => w.seq)).toEqual([3]);
  expect(held).toEqual([3]);
});
