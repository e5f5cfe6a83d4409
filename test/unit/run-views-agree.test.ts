import fc from "fast-check";
import { createLogger } from "../../core/logger";
import { isClosedStatus } from "../../core/run-lifecycle";
import { PartitionState } from "../../deciders/partition-state";
import type { Run, TimerKind as DeciderTimerKind } from "../../deciders/run";
import { foldEvents } from "../../projections/fold-events";
import type { RunInsertRow, TimerKind, TimerRow } from "../../projections/rows";
import { drive, moveArb, registry, type Recorded } from "../support/random-workload";

/**
 * A run as the decider holds it and as the read models show it are two folds of one history:
 * the decider's, compact, for deciding (its memory is bounded per open run), and the
 * projector's, for people and queries. They must agree on what a run waits for: its status, its
 * steps in flight or waiting to retry, its open signal waits and its pending timers (the
 * decider's own timeouts of a step's heartbeat, of its start and of the whole run aside, which
 * the read models do not show as timers). Random workloads drive a decider; the history it
 * wrote is folded by the projector, and both views are compared run by run. Where the
 * decider keeps a run's execution, the workflow code's open signal waits are its too.
 */

const log = createLogger("silent");

/** The decider's timers the read models show, by the read models' name for them. */
const SHOWN: Partial<Record<DeciderTimerKind, TimerKind>> = {
  sleep: "sleep",
  retry: "retry",
  stepTimeout: "step_timeout",
  signalTimeout: "signal_timeout",
};

function deciderView(run: Run) {
  return {
    status: run.status,
    steps: [...run.steps.values()].map((s) => `${s.seq}:${s.attempt}:${s.status}`).sort(),
    signalWaits: run.signalWaits.map((w) => `${w.signalName}#${w.waitSeq}`),
    timers: [...run.timers.values()]
      .flatMap((t) => {
        const shown = SHOWN[t.kind];
        return shown ? [`${shown}:${t.seq}:${t.attempt}@${t.dueAt}`] : [];
      })
      .sort(),
  };
}

function projectorView(row: RunInsertRow, timers: readonly TimerRow[]) {
  return {
    status: row.status,
    steps: row.waiting_on
      .flatMap((w) =>
        w.kind === "step"
          ? [`${w.stepSeq}:${w.attempt}:${w.state}`]
          : w.kind === "retry"
            ? [`${w.stepSeq}:${w.nextAttempt - 1}:backoff`]
            : [],
      )
      .sort(),
    signalWaits: row.waiting_on.flatMap((w) =>
      w.kind === "signal" ? [`${w.signalName}#${w.waitSeq}`] : [],
    ),
    timers: timers
      .filter((t) => t.workflow_id === row.workflow_id && t.status === "pending")
      .map((t) => `${t.kind}:${t.seq}:${t.attempt}@${Date.parse(t.due_at)}`)
      .sort(),
  };
}

describe("the decider's run and the read models' run", () => {
  it("agree on status, steps, signal waits and pending timers, for random workloads", async () => {
    // What the workloads put in front of the comparison, so that it is known to compare things.
    const seen = {
      open: 0,
      closed: 0,
      steps: 0,
      retries: 0,
      signalWaits: 0,
      timers: 0,
      executions: 0,
    };
    await fc.assert(
      fc.asyncProperty(fc.array(moveArb, { minLength: 1, maxLength: 150 }), async (moves) => {
        const decider = new PartitionState(0, registry(), log);
        const recorded: Recorded = { history: [], changelog: [] };
        await drive(moves, decider, recorded);

        const changes = foldEvents(new Map(), recorded.history, log);
        // One batch: each workflow ID's row as its last run left it, every timer row whole.
        const rows = new Map<string, RunInsertRow>();
        for (const row of [...changes.runInserts, ...changes.runRestarts])
          rows.set(row.workflow_id, row);
        expect(changes.runUpdates).toEqual([]);
        expect(changes.timerUpdates).toEqual([]);

        for (const [workflowId, row] of rows) {
          const run = decider.runs.get(workflowId);
          if (run) {
            const view = deciderView(run);
            seen.open++;
            seen.steps += view.steps.length;
            seen.retries += view.steps.filter((s) => s.endsWith("backoff")).length;
            seen.signalWaits += view.signalWaits.length;
            seen.timers += view.timers.length;
            // The code's own waits, where its execution is kept: the same, in the same order.
            if (run.execution) {
              seen.executions++;
              expect(run.execution.signalWaits).toEqual(run.signalWaits);
            }
            expect({ workflowId, ...projectorView(row, changes.timerUpserts) }).toEqual({
              workflowId,
              ...view,
            });
          } else {
            seen.closed++;
            // Closed for the decider: closed for the read models, waiting on nothing.
            expect({ workflowId, status: row.status, closed: isClosedStatus(row.status) }).toEqual({
              workflowId,
              status: row.status,
              closed: true,
            });
            expect(projectorView(row, changes.timerUpserts)).toMatchObject({
              steps: [],
              signalWaits: [],
              timers: [],
            });
          }
        }
        for (const workflowId of decider.runs.keys()) expect(rows.has(workflowId)).toBe(true);
      }),
      { numRuns: 500, seed: 20261205 },
    );
    for (const [what, count] of Object.entries(seen))
      expect({ what, some: count > 0 }).toEqual({ what, some: true });
  });
});
