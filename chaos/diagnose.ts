/**
 * Where lost work went, for the report: for each acknowledged start that never ran, and each
 * open run whose last event is StepScheduled, where its command or task sits in the logs and
 * whether the consumer group committed past it. A committed offset past a record whose effect
 * is missing is a skipped record; one before it is work still waiting to be consumed.
 */
import type { HistoryEvent } from "../schemas/types";
import { TERMINAL_EVENT_TYPES } from "../schemas/types";
import type { StartAck } from "./checks";

export interface LogPosition {
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
}

export interface LogIndex {
  /** First StartWorkflow of each run in weft.commands. */
  readonly starts: ReadonlyMap<string, LogPosition>;
  /** Step reports in weft.commands, by `workflowId/stepSeq/attempt`. */
  readonly reports: ReadonlyMap<string, readonly (LogPosition & { type: string })[]>;
  /** Tasks in the task topics, by `workflowId/stepSeq/attempt`. */
  readonly tasks: ReadonlyMap<string, LogPosition & { topic: string }>;
  /** Committed offsets: `topic:partition` → offset (deciders for commands, workers for tasks). */
  readonly committed: ReadonlyMap<string, bigint>;
  readonly commandsTopic: string;
}

export function diagnose(
  starts: readonly StartAck[],
  histories: ReadonlyMap<string, readonly HistoryEvent[]>,
  index: LogIndex,
): string[] {
  const lines: string[] = [];
  /** Records of one command partition: how many, where, when appended, and the deciders' offset. */
  const span = (what: string, partition: number, positions: readonly LogPosition[]) => {
    const offsets = positions.map((p) => p.offset).sort((a, b) => (a < b ? -1 : 1));
    const times = positions.map((p) => p.timestamp).sort((a, b) => a - b);
    const committed = index.committed.get(`${index.commandsTopic}:${partition}`);
    return (
      `${what}: ${positions.length} in command partition ${partition}, offsets ${offsets[0]}–${offsets[offsets.length - 1]} ` +
      `(appended ${clock(times[0]!)}–${clock(times[times.length - 1]!)}); deciders committed p${partition}@${committed ?? "none"}` +
      (committed !== undefined && committed > offsets[offsets.length - 1]!
        ? " (past all of them)"
        : "")
    );
  };
  const fate = (topic: string, at: LogPosition) => {
    const committed = index.committed.get(`${topic}:${at.partition}`);
    const verdict =
      committed === undefined
        ? "never committed"
        : committed > at.offset
          ? "committed past it"
          : "not yet consumed";
    return `p${at.partition}@${at.offset}, group at ${committed ?? "none"}: ${verdict}`;
  };

  // Acknowledged starts with no history, grouped by command partition.
  const neverRan = new Map<number, LogPosition[]>();
  let notWritten = 0;
  for (const s of starts) {
    if (histories.has(s.workflowId)) continue;
    const at = index.starts.get(s.workflowId);
    if (!at) notWritten++;
    else neverRan.set(at.partition, [...(neverRan.get(at.partition) ?? []), at]);
  }
  if (notWritten)
    lines.push(`${notWritten} acknowledged starts have no StartWorkflow in weft.commands`);
  for (const [partition, positions] of [...neverRan].sort((a, b) => a[0] - b[0])) {
    lines.push(span("never ran: starts", partition, positions));
  }

  // Open runs stopped at a step: did the task exist, was it consumed, was its report applied?
  const stuck: string[] = [];
  let stuckCount = 0;
  const verdicts = new Map<string, number>();
  const unapplied = new Map<number, LogPosition[]>();
  for (const [id, events] of histories) {
    if (events.some((e) => TERMINAL_EVENT_TYPES.has(e.body.type))) continue;
    const last = events[events.length - 1];
    if (last?.body.type !== "StepScheduled" && last?.body.type !== "StepStarted") continue;
    stuckCount++;
    const key = `${id}/${last.body.stepSeq}/${last.body.attempt}`;
    const task = index.tasks.get(key);
    const reports = index.reports.get(key) ?? [];
    const taskFate = task ? fate(task.topic, task) : "no task in the task topics";
    const reportFate = reports.length
      ? reports.map((r) => `${r.type} ${fate(index.commandsTopic, r)}`).join(", ")
      : "no report in weft.commands";
    const lastReport = reports[reports.length - 1];
    const verdict = !task
      ? "task never written"
      : lastReport
        ? "ran; its report was not applied"
        : taskFate.endsWith("committed past it")
          ? "task consumed, never reported"
          : "task waiting";
    if (lastReport) {
      unapplied.set(lastReport.partition, [
        ...(unapplied.get(lastReport.partition) ?? []),
        lastReport,
      ]);
    }
    verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
    if (stuck.length < 3) {
      stuck.push(
        `${id} step #${last.body.stepSeq} attempt ${last.body.attempt}: task ${taskFate}; ${reportFate}`,
      );
    }
  }
  if (stuckCount) {
    lines.push(
      `stopped at a step: ${stuckCount} runs (${[...verdicts].map(([v, n]) => `${v} ${n}`).join(", ")})`,
    );
    for (const [partition, positions] of [...unapplied].sort((a, b) => a[0] - b[0])) {
      lines.push(`  ${span("step reports not applied", partition, positions)}`);
    }
    lines.push(...stuck.map((s) => `  e.g. ${s}`));
  }
  return lines;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
