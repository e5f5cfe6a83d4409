/**
 * The decider's timer queue against a plain list: whatever is pushed, removed (a cancelled
 * timer) and popped, it pops the timers not removed, in due order, never a removed one, and
 * its size counts only those.
 */
import fc from "fast-check";
import type { TimerEntry } from "../../deciders/run";
import { TimerQueue } from "../../deciders/timer-queue";

const entry = (n: number, dueAt: number): TimerEntry => ({
  key: `sleep:${n}:0`,
  workflowId: "w",
  kind: "sleep",
  seq: n,
  attempt: 0,
  dueAt,
});

type Op =
  { kind: "push"; dueAt: number } | { kind: "remove"; pick: number } | { kind: "pop"; now: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("push" as const), dueAt: fc.nat(1_000) }),
  fc.record({ kind: fc.constant("remove" as const), pick: fc.nat(10_000) }),
  fc.record({ kind: fc.constant("pop" as const), now: fc.nat(1_000) }),
);

describe("TimerQueue", () => {
  it("pops what is due in order, never a removed timer, and counts only those held", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const queue = new TimerQueue();
        let live: TimerEntry[] = [];
        let n = 0;
        for (const op of ops) {
          if (op.kind === "push") {
            const timer = entry(n++, op.dueAt);
            queue.push(timer);
            live.push(timer);
          } else if (op.kind === "remove") {
            if (live.length === 0) continue;
            const timer = live[op.pick % live.length]!;
            queue.remove(timer);
            live = live.filter((t) => t !== timer);
          } else {
            const popped: number[] = [];
            for (let t = queue.popDue(op.now); t; t = queue.popDue(op.now)) popped.push(t.dueAt);
            const due = live.filter((t) => t.dueAt <= op.now);
            expect(popped).toEqual(due.map((t) => t.dueAt).sort((a, b) => a - b));
            live = live.filter((t) => t.dueAt > op.now);
          }
          expect(queue.size).toBe(live.length);
          const earliest = live.length === 0 ? undefined : Math.min(...live.map((t) => t.dueAt));
          expect(queue.peekDueAt()).toBe(earliest);
        }
      }),
    );
  });

  it("removes a far timer without waiting for it: the next due is the next live one", () => {
    const queue = new TimerQueue();
    const month = entry(1, 30 * 86_400_000);
    queue.push(month);
    queue.push(entry(2, 5_000));
    queue.remove(month);
    expect(queue.size).toBe(1);
    expect(queue.popDue(5_000)?.seq).toBe(2);
    expect(queue.peekDueAt()).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it("rebuilds itself once removed timers make up half of it, keeping the order", () => {
    const queue = new TimerQueue();
    const timers = Array.from({ length: 300 }, (_, i) => entry(i, (i * 7919) % 1000));
    for (const t of timers) queue.push(t);
    const removed = timers.filter((t) => t.seq % 3 !== 0);
    for (const t of removed) queue.remove(t);
    expect(queue.size).toBe(100);
    const popped: number[] = [];
    for (let t = queue.popDue(1_000); t; t = queue.popDue(1_000)) popped.push(t.seq);
    const kept = timers.filter((t) => t.seq % 3 === 0);
    expect(popped.sort((a, b) => a - b)).toEqual(kept.map((t) => t.seq));
    expect(queue.size).toBe(0);
  });
});
