/**
 * Replays collected runs through a module's workflow definitions with the test kit's
 * `checkReplay` (the decider's own replay, plus call sites), and says what diverged in words.
 */
import { relative, sep } from "node:path";
import { WeftError } from "../../core/errors";
import type { HistoryEvent } from "../../schemas/types";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import { checkReplay, type ReplayDivergence } from "../../workflow/replay-check";
import type { CallSite } from "../../workflow/call-sites";
import type { CollectedRun } from "./run-collector";

export interface RunVerdict {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly runStartSeq: number;
  /** ISO-8601. */
  readonly startedAt: string;
  readonly events: number;
  /** "passed", "diverged", or "unreadable" (the run's events are not a replayable history). */
  readonly verdict: "passed" | "diverged" | "unreadable";
  /** With `event`, the history event named as a person reads it: `StepScheduled "charge"`. */
  readonly divergence: (ReplayDivergence & { readonly event: string }) | null;
  /** Why an unreadable run could not be replayed. */
  readonly error?: string;
}

export async function replayRuns(
  runs: readonly CollectedRun[],
  definitions: ReadonlyMap<string, AnyWorkflowDefinition>,
): Promise<RunVerdict[]> {
  const verdicts: RunVerdict[] = [];
  // One at a time: each replay swaps the sandbox's globals while its code runs.
  for (const run of runs) verdicts.push(await replayRun(run, definitions.get(run.workflowType)!));
  return verdicts;
}

async function replayRun(
  run: CollectedRun,
  definition: AnyWorkflowDefinition,
): Promise<RunVerdict> {
  const base = {
    workflowId: run.workflowId,
    workflowType: run.workflowType,
    runStartSeq: run.startSeq,
    startedAt: new Date(run.startedAt).toISOString(),
    events: run.events.length,
  };
  try {
    const report = await checkReplay(definition, run.events, { workflowId: run.workflowId });
    const d = report.divergence;
    if (!d) return { ...base, verdict: "passed", divergence: null };
    const event = run.events.find((e) => e.seq === d.eventSeq);
    return {
      ...base,
      verdict: "diverged",
      divergence: { ...d, event: event ? describeEvent(event) : d.eventType },
    };
  } catch (err) {
    // checkReplay refuses a history it cannot replay (a gap in the seqs): the run was not checked.
    if (!WeftError.is(err)) throw err;
    return { ...base, verdict: "unreadable", divergence: null, error: err.message };
  }
}

/** `StepScheduled "charge"`, `SignalWaitStarted "approve"`, `TimerStarted`, … */
export function describeEvent(event: HistoryEvent): string {
  const body = event.body;
  switch (body.type) {
    case "StepScheduled":
      return `${body.type} "${body.stepName}"`;
    case "SignalWaitStarted":
    case "SignalReceived":
      return `${body.type} "${body.signalName}"`;
    case "ChildWorkflowScheduled":
      return `${body.type} "${body.workflowType}"`;
    default:
      return body.type;
  }
}

/** `workflows/orders.ts:14:11`: relative to the working directory when the file is in it. */
export function where(site: CallSite, cwd = process.cwd()): string {
  const rel = relative(cwd, site.file);
  const file = rel && !rel.startsWith(`..${sep}`) && rel !== ".." ? rel : site.file;
  return `${file}:${site.line}:${site.column}`;
}

/** One line per divergent (or unreadable) run: the run, the event, what the code did, where. */
export function verdictLine(v: RunVerdict): string {
  const run = `${v.workflowId} (${v.workflowType}, run from seq ${v.runStartSeq}, started ${v.startedAt})`;
  if (v.verdict === "unreadable") return `${run}: not checked: ${v.error}`;
  const d = v.divergence!;
  const at = `event ${d.eventSeq} ${d.event}`;
  const source = d.source ? ` at ${where(d.source)}` : "";
  switch (d.kind) {
    case "command":
      if (d.found === "nothing") {
        const last = d.sourceCall ? ` (its last call: ${d.sourceCall}${source})` : "";
        return `${run}: ${at}: history has ${d.expected} as command ${d.position}, the code asks for nothing there${last}`;
      }
      return `${run}: ${at}: history has ${d.expected} as command ${d.position}, the code asks for ${d.found}${source}`;
    case "unrecordedCommand":
      return `${run}: ${at}: the code asks for ${d.found} as command ${d.position}${source}, which history does not hold`;
    case "outcome":
      return `${run}: ${at}: history has the run ${d.expected}, the code has it ${d.found}`;
    case "state":
      return `${run}: ${at}: history records the state ${d.expected}, the code now sets ${d.found}`;
  }
}
