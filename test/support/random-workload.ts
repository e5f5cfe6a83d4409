/**
 * Random workloads for a decider's partition state: starts (some with an ID used before),
 * step reports (some stale), signals, cancels and timers firing, picked by numbers a property
 * test draws. Each decision's history and changelog records are kept, for the tests to
 * restore or fold them.
 */
import fc from "fast-check";
import type { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { ChangelogEntry } from "../../deciders/run-changelog";
import type { Command, CommandBody, HistoryEvent } from "../../schemas/types";
import type { PortConsumedMessage } from "../../transport/port";
import {
  approval,
  countdown,
  echo,
  flaky,
  parallel,
  retryFixed,
  sleepy,
  slow,
  tally,
  threeSteps,
  timedOut,
} from "../fixtures/workflows";
import { note, scoped } from "../fixtures/scopes";
import { appendChangelog } from "./changelog-records";

export const WORKFLOWS = [
  threeSteps,
  approval,
  tally,
  sleepy,
  parallel,
  retryFixed,
  timedOut,
  countdown,
  // Cancels part of itself: cancelled steps, timers and signal waits leave the timers.
  scoped,
];
export const registry = () => new Registry(WORKFLOWS, [echo, flaky, slow, note]);

/** One step of a random workload: an action kind and numbers that pick its target. */
export type Move = { kind: number; a: number; b: number };
export const moveArb: fc.Arbitrary<Move> = fc.record({
  kind: fc.integer({ min: 0, max: 6 }),
  a: fc.nat(1_000),
  b: fc.nat(1_000),
});

export interface Recorded {
  history: HistoryEvent[];
  changelog: PortConsumedMessage[];
}

/** The changelog records as a consumer would receive them (through the codec, both ways). */
export function record(into: Recorded, events: HistoryEvent[], changes: ChangelogEntry[]): void {
  into.history.push(...events);
  appendChangelog(into.changelog, changes);
}

/** Where a workload stands: the clock and the IDs handed out (a tail continues from them). */
export interface Cursor {
  now: number;
  started: number;
}

export async function drive(
  moves: Move[],
  state: PartitionState,
  out: Recorded,
  from: Cursor = { now: 1_000, started: 0 },
): Promise<Cursor> {
  let { now, started } = from;
  const step = async (run: () => Promise<unknown>) => {
    await run();
    const d = state.takeDecisions();
    record(out, d.events, d.changes);
  };
  const apply = (workflowId: string, body: CommandBody) => {
    const command: Command = { workflowId, sentAt: now, body };
    return step(() => state.apply(command, now));
  };
  for (const move of moves) {
    now += 1 + (move.b % 500);
    // By ID: a restored state holds its runs in another order than the live one.
    const open = [...state.runs.values()].sort((x, y) => x.workflowId.localeCompare(y.workflowId));
    const target = open.length > 0 ? open[move.a % open.length]! : undefined;
    switch (move.kind) {
      case 0:
      case 1: {
        // Sometimes a start with an ID used before: a duplicate, open or closed.
        const id = move.b % 5 === 0 && started > 0 ? `wf-${move.a % started}` : `wf-${started++}`;
        const type = WORKFLOWS[move.a % WORKFLOWS.length]!.name;
        const input =
          type === "approval"
            ? { timeoutMs: 200 + move.b }
            : type === "sleepy"
              ? { ms: 100 + move.b }
              : type === "countdown"
                ? { n: move.b % 4 }
                : { n: move.b };
        await apply(id, {
          type: "StartWorkflow",
          workflowType: type,
          input: JSON.stringify(input),
          idempotencyKey: null,
          requestId: `start-${id}`,
        });
        break;
      }
      case 2:
      case 3: {
        // A worker reports on one of the run's live steps (or a stale attempt).
        const steps = target ? [...target.steps.values()] : [];
        const s = steps[move.b % Math.max(1, steps.length)];
        if (!target || !s) break;
        const attempt = move.b % 7 === 0 ? s.attempt + 1 : s.attempt;
        const ok = move.kind === 2;
        await apply(
          target.workflowId,
          ok
            ? {
                type: "ReportStepCompleted",
                stepSeq: s.seq,
                attempt,
                workerId: "w",
                result: JSON.stringify({ n: move.a }),
              }
            : {
                type: "ReportStepFailed",
                stepSeq: s.seq,
                attempt,
                workerId: "w",
                error: {
                  name: "Error",
                  message: "boom",
                  stack: null,
                  terminal: move.a % 4 === 0,
                  code: null,
                },
              },
        );
        break;
      }
      case 4:
        if (target)
          await apply(target.workflowId, {
            type: "SignalWorkflow",
            signalName: move.a % 2 === 0 ? "approve" : "add",
            payload: JSON.stringify({ approvedBy: "x", n: move.b, done: move.b % 5 === 0 }),
            requestId: `sig-${move.b % 3}`,
          });
        break;
      case 5:
        if (target && move.b % 3 === 0)
          await apply(target.workflowId, {
            type: "CancelWorkflow",
            reason: "test",
            requestId: `cancel-${move.a}`,
          });
        break;
      case 6:
        await step(() => state.fireDue(now));
        break;
    }
  }
  return { now, started };
}
