/**
 * Start deduplication with a retention: a closed run's ID deduplicates starts while it lasts,
 * then starts a new run whose history begins above every seq of the runs it may have named,
 * also once a snapshot dropped the closed run's entry and after a restore from the changelog.
 */
import { createLogger } from "../../core/logger";
import { PartitionState, type PartitionStateOptions } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import { changelogEntry, LatestByKey, type ChangelogEntry } from "../../deciders/run-changelog";
import type { HistoryEvent, IdReusePolicy } from "../../schemas/types";
import type { PortConsumedMessage } from "../../transport/port";
import { echo, tally } from "../fixtures/workflows";
import { appendChangelog } from "../support/changelog-records";

const DAY = 86_400_000;
const OPTIONS: PartitionStateOptions = {
  dedupeRetentionMs: DAY,
  closedSnapshotAfter: 4,
  closedDeltaAfter: 2,
};
const log = createLogger("silent");
const newState = () => new PartitionState(0, new Registry([tally], [echo]), log, OPTIONS);

/** Drives one state and keeps what it wrote, as a decider's transactions would. */
class Driver {
  readonly history: HistoryEvent[] = [];
  readonly changelog: PortConsumedMessage[] = [];
  private requests = 0;

  constructor(readonly state: PartitionState) {}

  /** Starts a run of `tally`; returns the events the start decided (none for a duplicate). */
  async start(workflowId: string, at: number, idReusePolicy?: IdReusePolicy) {
    await this.state.apply(
      {
        workflowId,
        sentAt: at,
        body: {
          type: "StartWorkflow",
          workflowType: "tally",
          input: "{}",
          idempotencyKey: null,
          requestId: `r-${this.requests++}`,
          idReusePolicy: idReusePolicy ?? null,
        },
      },
      at,
    );
    return this.take();
  }

  /** The signal that closes a `tally` run. */
  async finish(workflowId: string, at: number): Promise<number> {
    await this.state.apply(
      {
        workflowId,
        sentAt: at,
        body: {
          type: "SignalWorkflow",
          signalName: "add",
          payload: JSON.stringify({ done: true }),
          requestId: `s-${this.requests++}`,
        },
      },
      at,
    );
    const events = this.take();
    expect(events.at(-1)?.body.type).toBe("WorkflowCompleted");
    return events.at(-1)!.seq;
  }

  private take(): HistoryEvent[] {
    const d = this.state.takeDecisions();
    this.history.push(...d.events);
    appendChangelog(this.changelog, d.changes);
    return d.events;
  }

  /** A new state restored from the changelog as compaction leaves it. */
  restored(): PartitionState {
    const latest = new LatestByKey();
    for (const record of this.changelog) latest.add(record);
    const entries: ChangelogEntry[] = [];
    for (const m of latest.messages()) {
      const entry = changelogEntry(m);
      if (entry) entries.push(entry);
    }
    const state = newState();
    state.restoreChangelog(entries);
    return state;
  }
}

const startedSeq = (events: HistoryEvent[]) =>
  events.find((e) => e.body.type === "WorkflowStarted")?.seq;

test("within the retention a closed run's ID is a duplicate; after it, a new run continues after it", async () => {
  const d = new Driver(newState());
  expect(startedSeq(await d.start("order-1", 0))).toBe(1);
  const last = await d.finish("order-1", 1_000);

  expect(await d.start("order-1", DAY / 2)).toEqual([]);
  // The entry is still held (no snapshot since): the new run continues right after it.
  expect(startedSeq(await d.start("order-1", DAY + 2_000))).toBe(last + 1);
  expect(await d.start("order-1", DAY + 3_000)).toEqual([]);
});

test("once a snapshot dropped expired runs, any new run begins above every seq they reached, also after a restore", async () => {
  const d = new Driver(newState());
  // Runs of different lengths: each signal before the closing one adds an event.
  const lastSeqs: number[] = [];
  for (let i = 0; i < 4; i++) {
    await d.start(`old-${i}`, i);
    lastSeqs.push(await d.finish(`old-${i}`, 10 + i));
  }
  await d.start("long", 20);
  for (let i = 0; i < 5; i++) {
    await d.state.apply(
      {
        workflowId: "long",
        sentAt: 21 + i,
        body: {
          type: "SignalWorkflow",
          signalName: "add",
          payload: JSON.stringify({ n: i }),
          requestId: `long-${i}`,
        },
      },
      21 + i,
    );
  }
  lastSeqs.push(await d.finish("long", 30));
  const floor = Math.max(...lastSeqs);

  // Two days on, more runs close: the snapshot they bring drops the expired entries.
  for (let i = 0; i < 6; i++) {
    await d.start(`new-${i}`, 2 * DAY + i);
    await d.finish(`new-${i}`, 2 * DAY + 10 + i);
  }
  expect(d.state.closed.has("old-0")).toBe(false);
  expect(d.state.closed.has("long")).toBe(false);
  expect(d.state.closed.has("new-0")).toBe(true);

  const restored = new Driver(d.restored());
  const new4Last = d.history.filter((e) => e.workflowId === "new-4").at(-1)!.seq;
  for (const driver of [d, restored]) {
    // The ID of a dropped run, and one never used: both begin above the floor.
    expect(startedSeq(await driver.start("old-1", 2 * DAY + 100))).toBe(floor + 1);
    expect(startedSeq(await driver.start("fresh", 2 * DAY + 100))).toBe(floor + 1);
    // A run still within the retention deduplicates as before.
    expect(await driver.start("new-3", 2 * DAY + 100)).toEqual([]);
    // And reuse by policy still continues after the closed run's own last seq.
    const reused = await driver.start("new-4", 2 * DAY + 100, "allowAfterClose");
    expect(startedSeq(reused)).toBe(new4Last + 1);
  }
});
