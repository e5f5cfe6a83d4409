import fc from "fast-check";
import { createLogger } from "../../core/logger";
import { PartitionState } from "../../deciders/partition-state";
import { changelogEntry, LatestByKey, type ChangelogEntry } from "../../deciders/run-changelog";
import type { HistoryEvent } from "../../schemas/types";
import type { PortConsumedMessage } from "../../transport/port";
import { drive, moveArb, record, registry, type Recorded } from "../support/random-workload";

/**
 * A decider restored from its changelog must be the decider restored from history: the same
 * open runs in the same state, the same closed IDs, and the same decisions on what comes next.
 * Random workloads (starts, step reports, signals, cancels, timers firing) drive one state; the
 * history and the changelog it wrote then restore two more, and the changelog is read both as
 * written and as Kafka's compaction leaves it.
 */

const log = createLogger("silent");

/** What Kafka's compaction may leave: each key's last record, tombstones dropped, in order. */
function compacted(records: PortConsumedMessage[]): PortConsumedMessage[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(r.key!.toString("latin1"), i));
  return records.filter((r, i) => last.get(r.key!.toString("latin1")) === i && r.value !== null);
}

/** A comparable picture of a decider's state. */
function picture(state: PartitionState) {
  const runs = [...state.runs.values()]
    .map((run) => ({
      id: run.workflowId,
      type: run.workflowType,
      status: run.status,
      lastSeq: run.lastSeq,
      events: run.events().map((e) => `${e.seq}:${e.body.type}`),
      steps: [...run.steps.values()].map((s) => `${s.seq}:${s.attempt}:${s.status}`).sort(),
      timers: [...run.timers.values()].map((t) => `${t.key}@${t.dueAt}`).sort(),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
  return { runs, closed: state.closed.fingerprint() };
}

/**
 * Each run's events in order (runs interleave in another order when timers tie). Stacks are
 * left out: they name the caller's line, which differs between the two drives by construction.
 */
function byRun(events: HistoryEvent[]): unknown {
  const runs: Record<string, HistoryEvent[]> = {};
  for (const event of events) (runs[event.workflowId] ??= []).push(event);
  return JSON.parse(JSON.stringify(runs, (k, v: unknown) => (k === "stack" ? null : v)));
}

/** Small chunks, so that runs here have several: a restore must put them back together. */
const CHUNK_BYTES = 300;
/**
 * A snapshot of the closed runs after every few closes, and a delta of them between two, so
 * that workloads here write both.
 */
const SNAPSHOT_AFTER = 5;
const DELTA_AFTER = 2;
const newState = () =>
  new PartitionState(0, registry(), log, {
    chunkBytes: CHUNK_BYTES,
    closedSnapshotAfter: SNAPSHOT_AFTER,
    closedDeltaAfter: DELTA_AFTER,
  });

/** As a decider restores: each key's last record, decoded. */
function restoreFromChangelog(records: PortConsumedMessage[]): PartitionState {
  const state = newState();
  const latest = new LatestByKey();
  for (const r of records) latest.add(r);
  const entries: ChangelogEntry[] = [];
  for (const m of latest.messages()) {
    const entry = changelogEntry(m);
    if (entry) entries.push(entry);
  }
  state.restoreChangelog(entries);
  return state;
}

describe("restore from the changelog equals restore from history", () => {
  it("for random workloads, as written and as compacted, and decides the same next", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(moveArb, { minLength: 1, maxLength: 120 }),
        fc.array(moveArb, { minLength: 1, maxLength: 30 }),
        async (moves, tail) => {
          const live = newState();
          const recorded: Recorded = { history: [], changelog: [] };
          const cursor = await drive(moves, live, recorded);

          const fromHistory = newState();
          for (const event of recorded.history) fromHistory.restore(event);
          const asWritten = restoreFromChangelog(recorded.changelog);
          const asCompacted = restoreFromChangelog(compacted(recorded.changelog));

          const expected = picture(live);
          expect(picture(fromHistory)).toEqual(expected);
          expect(picture(asWritten)).toEqual(expected);
          expect(picture(asCompacted)).toEqual(expected);
          // Compaction leaves a record per open run (its open chunk) and its sealed chunks, a
          // marker per run closed since the last delta, the deltas since the last snapshot
          // of the closed runs, and that snapshot (a header and a chunk): nothing else of a
          // closed run.
          const sealed = [...live.runs.values()].reduce((n, r) => n + r.history.sealedCount, 0);
          const kinds = compacted(recorded.changelog).map((r) => changelogEntry(r)?.kind);
          const count = (kind: string) => kinds.filter((k) => k === kind).length;
          expect(count("run")).toBe(live.runs.size);
          expect(count("chunk")).toBe(sealed);
          expect(count("closed")).toBe(live.pendingMarkerCount);
          expect(count("closedSnapshot")).toBe(
            count("closedChunk") > 0 ? 1 : count("closedSnapshot"),
          );
          expect(count("closedChunk")).toBeLessThanOrEqual(1);
          expect(count("closedDelta")).toBe(live.closedDeltaCount);
          expect(kinds).toHaveLength(
            live.runs.size +
              sealed +
              live.pendingMarkerCount +
              live.closedDeltaCount +
              count("closedSnapshot") +
              count("closedChunk"),
          );

          // The restored decider carries on exactly as the live one does.
          const a: Recorded = { history: [], changelog: [] };
          const b: Recorded = { history: [], changelog: [] };
          await drive(tail, live, a, cursor);
          await drive(tail, asCompacted, b, cursor);
          expect(byRun(b.history)).toEqual(byRun(a.history));
          expect(picture(asCompacted)).toEqual(picture(live));
        },
      ),
      { numRuns: 150, seed: 20261203 },
    );
  });

  it("keeps closed runs out of memory and folds their markers into snapshots", async () => {
    const state = newState();
    const out: Recorded = { history: [], changelog: [] };
    for (let i = 0; i < 50; i++) {
      await state.apply(
        {
          workflowId: `t-${i}`,
          sentAt: i,
          body: {
            type: "StartWorkflow",
            workflowType: "tally",
            input: "{}",
            idempotencyKey: null,
            requestId: `r-${i}`,
          },
        },
        i,
      );
      await state.apply(
        {
          workflowId: `t-${i}`,
          sentAt: i,
          body: {
            type: "SignalWorkflow",
            signalName: "add",
            payload: JSON.stringify({ done: true }),
            requestId: `s-${i}`,
          },
        },
        i,
      );
      const d = state.takeDecisions();
      record(out, d.events, d.changes);
    }
    expect(state.runs.size).toBe(0);
    expect(state.closed.size).toBe(50);
    // A start with a closed run's ID is a duplicate: nothing is decided.
    await state.apply(
      {
        workflowId: "t-7",
        sentAt: 99,
        body: {
          type: "StartWorkflow",
          workflowType: "tally",
          input: "{}",
          idempotencyKey: null,
          requestId: "again",
        },
      },
      99,
    );
    expect(state.takeDecisions().events).toEqual([]);
    // Compacted, the changelog holds one snapshot of the closed runs (a header and one
    // chunk), the deltas since and a marker for each run closed after the last delta: not a
    // record per closed run.
    const kinds = compacted(out.changelog).map((r) => changelogEntry(r)?.kind);
    expect(state.pendingMarkerCount).toBeLessThan(DELTA_AFTER);
    expect(state.closedDeltaCount).toBeLessThanOrEqual(SNAPSHOT_AFTER / DELTA_AFTER);
    expect(kinds.sort()).toEqual(
      [
        "closedChunk",
        "closedSnapshot",
        ...Array<string>(state.closedDeltaCount).fill("closedDelta"),
        ...Array<string>(state.pendingMarkerCount).fill("closed"),
      ].sort(),
    );
    const restored = restoreFromChangelog(compacted(out.changelog));
    expect(restored.closed.fingerprint()).toEqual(state.closed.fingerprint());
    expect(restored.closed.get("t-7")).toMatchObject({ status: "completed" });
    expect(restored.closed.has("t-50")).toBe(false);
  });
});
