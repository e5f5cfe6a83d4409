/**
 * The runs `weft replay workflows` keeps from a stream of history events: split at each
 * WorkflowStarted, filtered when a run starts, bounded by --limit to the most recent.
 */
import { join } from "node:path";
import { RunCollector, type RunFilter } from "../../cli/replay/run-collector";
import type { HistoryEvent } from "../../schemas/types";
import { readHistoryFile } from "../../testing/history-file";

const golden = (name: string) =>
  readHistoryFile(join(__dirname, "..", "golden", "histories", name));

function collect(events: readonly HistoryEvent[], filter: Partial<RunFilter> = {}) {
  const collector = new RunCollector({ limit: 0, known: () => true, ...filter });
  for (const event of events) collector.add(event);
  return collector.result();
}

/** Runs of `golden` under other IDs and start times, their events interleaved as partitions are. */
function many(count: number): HistoryEvent[] {
  const base = golden("three-steps.json");
  const runs = Array.from({ length: count }, (_, i) =>
    base.map((e) => ({ ...e, workflowId: `run-${i}`, at: e.at + ((i * 7919) % 1000) })),
  );
  return base.flatMap((_, seq) => runs.map((run) => run[seq]!));
}

it("splits a workflow ID's history into its runs at each WorkflowStarted", () => {
  const history = golden("countdown-continued.json");
  const { runs, matched } = collect(history);
  const starts = history.filter((e) => e.body.type === "WorkflowStarted").map((e) => e.seq);
  expect(starts).toHaveLength(3);
  expect(matched).toBe(3);
  // Most recent first; together they are the whole history.
  expect(runs.map((r) => r.startSeq)).toEqual([...starts].reverse());
  expect(runs.flatMap((r) => r.events).sort((a, b) => a.seq - b.seq)).toEqual(history);
  for (const run of runs) expect(run.events[0]!.seq).toBe(run.startSeq);
});

it("keeps the runs started since a time, and counts the IDs whose start it never saw", () => {
  const history = golden("countdown-continued.json");
  const second = history.filter((e) => e.body.type === "WorkflowStarted")[1]!;
  const { runs } = collect(history, { since: second.at });
  const later = history.filter((e) => e.body.type === "WorkflowStarted" && e.at >= second.at);
  expect(later.length).toBeGreaterThanOrEqual(2);
  expect(runs.map((r) => r.startSeq)).toEqual(later.map((e) => e.seq).reverse());
  // A history whose first events retention deleted: the rest of the first run is not a run.
  const cut = collect(history.slice(1));
  expect(cut.withoutStart).toBe(1);
  expect(cut.runs.map((r) => r.startSeq)).toEqual(
    history
      .filter((e) => e.seq > 1 && e.body.type === "WorkflowStarted")
      .map((e) => e.seq)
      .reverse(),
  );
});

it("counts runs of types the module does not define, per type, and keeps none of their events", () => {
  const events = [...golden("three-steps.json"), ...golden("parallel.json")];
  const { runs, unknownTypes } = collect(events, { known: (t) => t === "threeSteps" });
  expect(runs.map((r) => r.workflowType)).toEqual(["threeSteps"]);
  expect(runs[0]!.events).toEqual(golden("three-steps.json"));
  expect([...unknownTypes]).toEqual([["parallel", 1]]);
});

it("under a limit keeps the most recently started runs whole, whatever the order they come in", () => {
  const events = many(50);
  const all = collect(events).runs;
  expect(all).toHaveLength(50);
  const limited = collect(events, { limit: 7 });
  expect(limited.matched).toBe(50);
  expect(limited.runs.map((r) => r.workflowId)).toEqual(all.slice(0, 7).map((r) => r.workflowId));
  for (const run of limited.runs)
    expect(run.events).toHaveLength(golden("three-steps.json").length);
  // Most recent first.
  const times = limited.runs.map((r) => r.startedAt);
  expect(times).toEqual([...times].sort((a, b) => b - a));
});
