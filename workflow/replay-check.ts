import { InvalidInputError, WeftError } from "../core/errors";
import { endStatus } from "../core/run-lifecycle";
import type { EventBody, EventType, HistoryEvent } from "../schemas/types";
import { CallSites, type CallSite } from "./call-sites";
import type { AnyWorkflowDefinition, WorkflowDefinition } from "./definitions";
import { commandDescriptor, WorkflowExecution } from "./execution";

/**
 * - command: history records one command at this position, the code issues another (or none);
 * - unrecordedCommand: the code issues a command history does not hold;
 * - outcome: the run ends differently (another result, failure instead of completion, …);
 * - state: at a StateUpdated, the code's state (`ctx.setState`) is not the one recorded. The
 *   decider would record the new state and carry on (state is re-derived, never matched), but
 *   a reader of the state would see it change: worth knowing before a deploy.
 */
export type ReplayDivergenceKind = "command" | "unrecordedCommand" | "outcome" | "state";

export interface ReplayDivergence {
  readonly kind: ReplayDivergenceKind;
  /** The history event at which replay diverged (the last one when history ended first). */
  readonly eventSeq: number;
  readonly eventType: EventType;
  /** The command (the n-th call on `ctx`) that diverged; null for an outcome divergence. */
  readonly position: number | null;
  /** What history records, e.g. `step "charge"`, `wait`, `result {"ok":true}`. */
  readonly expected: string;
  /** What the current code does instead. */
  readonly found: string;
  readonly message: string;
  /** The seq of the WorkflowStarted of the run that diverged (1 for a workflow ID's first). */
  readonly runStartSeq: number;
  /**
   * Where in the workflow code the divergent command was asked for (the caller's file, line
   * and column from a stack captured at the `ctx` call); when the code asks for nothing there,
   * its last `ctx` call. Null for an outcome divergence, with `callSites: false`, or when the
   * stack names no file.
   */
  readonly source: CallSite | null;
  /** The call at `source`: `found`, or the code's last call when it asks for nothing. */
  readonly sourceCall: string | null;
}

export interface ReplayReport {
  readonly workflowId: string;
  readonly workflowType: string;
  /** Events of the history that replay went through. */
  readonly events: number;
  readonly ok: boolean;
  readonly divergence: ReplayDivergence | null;
}

/** What `assertReplays` throws: the report says where and how replay diverged. */
export class ReplayDivergenceError extends WeftError {
  constructor(readonly report: ReplayReport & { divergence: ReplayDivergence }) {
    super("DETERMINISM_VIOLATION", report.divergence.message, { ...report.divergence });
  }
}

export interface ReplayOptions {
  /**
   * The run's ID, when the events do not carry it (the CLI's JSON form). It seeds
   * `ctx.random()` and `ctx.uuid()`: code that uses them replays only under the right ID.
   */
  workflowId?: string;
  /**
   * Capture where the code calls `ctx` (a stack per command call) so that a divergence names
   * the source line (`divergence.source`). Default true; the decider never does this.
   */
  callSites?: boolean;
}

/**
 * A recorded history as `WeftClient.getHistory` returns it, as `weft workflow history --json`
 * prints it (`{ seq, type, at, body }`, `at` an ISO time), or as `weft history export` writes
 * it. It starts at a WorkflowStarted: seq 1, or a later run's (after a continue-as-new) when
 * only the runs from there on are to be checked; its seqs follow on without a gap.
 */
export type RecordedHistory = readonly (
  | HistoryEvent
  | { workflowId?: string; seq: number; type?: string; at: number | string; body: object }
)[];

/**
 * Replays a recorded history through the current workflow code, with the replay the decider
 * uses, and reports the first divergence: a command the code issues differently or not at all,
 * a command history does not hold, or a different outcome. Use it in CI against histories of
 * runs still in flight before deploying changed workflow code.
 */
export async function checkReplay(
  definition: AnyWorkflowDefinition,
  recorded: RecordedHistory,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const { events: history, started } = normalise(recorded, options.workflowId);
  const first = history[0]!;
  if (started.workflowType !== definition.name) {
    throw new InvalidInputError(
      `the history is of workflow type ${JSON.stringify(started.workflowType)}, the definition is ${JSON.stringify(definition.name)}`,
    );
  }
  // A history of several runs (each after a WorkflowContinuedAsNew) replays run by run.
  let replayed = 0;
  for (const run of splitRuns(history)) {
    const report = await checkRun(definition, run, replayed, options.callSites !== false);
    if (!report.ok || run === history) return report;
    replayed = report.events;
  }
  return {
    workflowId: first.workflowId,
    workflowType: definition.name,
    events: history.length,
    ok: true,
    divergence: null,
  };
}

/** The runs of one workflow ID's history: each starts at a WorkflowStarted. */
function splitRuns(history: HistoryEvent[]): HistoryEvent[][] {
  const starts = history.flatMap((e, i) => (e.body.type === "WorkflowStarted" ? [i] : []));
  if (starts.length <= 1) return [history];
  return starts.map((start, i) => history.slice(start, starts[i + 1]));
}

/** Replays one run; `before` events of earlier runs are counted in its report. */
async function checkRun(
  definition: AnyWorkflowDefinition,
  history: HistoryEvent[],
  before: number,
  withCallSites: boolean,
): Promise<ReplayReport> {
  const first = history[0]!;
  const sites = withCallSites ? new CallSites(definition) : undefined;
  const started = first.body as Extract<EventBody, { type: "WorkflowStarted" }>;
  const workflowId = first.workflowId;
  const report = (events: number, divergence: ReplayDivergence | null): ReplayReport => ({
    workflowId,
    workflowType: definition.name,
    events: before + events,
    ok: divergence === null,
    divergence,
  });
  const execution = new WorkflowExecution(
    sites?.definition ?? (definition as WorkflowDefinition),
    workflowId,
    started.input,
    first.at,
    first.seq,
  );
  execution.replaying(history);
  await execution.begin();
  let closing: HistoryEvent | undefined;
  let delivered = 0;
  for (const event of history) {
    await execution.deliver(event);
    delivered++;
    const violation = execution.divergence;
    if (violation) {
      const last = violation.found === "nothing" ? sites?.last() : undefined;
      const source = last
        ? last.site
        : (sites?.at(violation.position, first.seq, violation.found) ?? null);
      return report(delivered, {
        kind: "command",
        eventSeq: event.seq,
        eventType: event.body.type,
        position: violation.position,
        expected: violation.expected,
        found: violation.found,
        message: `history event ${event.seq} (${event.body.type}): ${violation.message}`,
        runStartSeq: first.seq,
        source,
        sourceCall: last ? last.descriptor : source ? violation.found : null,
      });
    }
    if (event.body.type === "StateUpdated" && execution.currentState !== event.body.state) {
      const found = execution.currentState ?? "no state";
      return report(delivered, {
        kind: "state",
        eventSeq: event.seq,
        eventType: event.body.type,
        position: null,
        expected: event.body.state,
        found,
        message: `history event ${event.seq} (StateUpdated): history records the state ${event.body.state}, the code now has ${found}`,
        runStartSeq: first.seq,
        // setState is not matched by position, so no recorded call site speaks for it.
        source: null,
        sourceCall: null,
      });
    }
    if (endStatus(event.body.type) !== undefined) {
      closing = event;
      break;
    }
  }
  const last = closing ?? history[history.length - 1]!;
  const at = (
    kind: ReplayDivergenceKind,
    position: number | null,
    expected: string,
    found: string,
    message: string,
    source: CallSite | null = null,
  ): ReplayReport =>
    report(delivered, {
      kind,
      eventSeq: last.seq,
      eventType: last.body.type,
      position,
      expected,
      found,
      message: `workflow ${workflowId} diverged from its history: ${message}`,
      runStartSeq: first.seq,
      source,
      sourceCall: source ? found : null,
    });

  // A run cancelled without a cancel request (history before v5, or a blocked run) ends
  // wherever the code was; a blocked one resumes from here, recording what the code asks for
  // next: only the recorded part has to replay. A run cancelled after a request ran its code
  // to the end (its cleanup included), so that end is checked like any other.
  // A run that timed out (WORKFLOW_TIMEOUT) was closed by its decider wherever the code was.
  if (
    (closing?.body.type === "WorkflowCancelled" && !execution.cancelRequested) ||
    (closing?.body.type === "WorkflowFailed" && closing.body.error.code === "WORKFLOW_TIMEOUT") ||
    last.body.type === "WorkflowBlocked"
  )
    return report(delivered, null);
  // A patch taken past the end of history is what a live run would record next, not a
  // divergence (and not a command): replay answered every patched() call inside history.
  const [unrecorded] = execution.newCommands();
  if (unrecorded) {
    const found = commandDescriptor(unrecorded);
    return at(
      "unrecordedCommand",
      unrecorded.seq,
      "nothing",
      found,
      `the code asks for ${found} as command ${unrecorded.seq}, which history (${history.length} events, last ${last.body.type}) does not hold`,
      sites?.at(unrecorded.seq, first.seq, found) ?? null,
    );
  }
  const expected = describeClose(closing?.body);
  const outcome = execution.outcome;
  const found =
    outcome === undefined
      ? "still running"
      : outcome.kind === "completed"
        ? `completed with ${outcome.result}`
        : outcome.kind === "failed"
          ? `failed with ${JSON.stringify(outcome.error.message)}`
          : outcome.kind === "continuedAsNew"
            ? `continued as new with ${outcome.input}`
            : outcome.kind === "cancelled"
              ? "cancelled"
              : `blocked: ${outcome.reason}`;
  if (expected !== found) {
    return at(
      "outcome",
      null,
      expected,
      found,
      `history has the run ${expected}, the code now has it ${found}`,
    );
  }
  return report(delivered, null);
}

/** Like `checkReplay`, but throws a ReplayDivergenceError when replay diverges. */
export async function assertReplays(
  definition: AnyWorkflowDefinition,
  history: RecordedHistory,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const report = await checkReplay(definition, history, options);
  if (report.divergence)
    throw new ReplayDivergenceError({ ...report, divergence: report.divergence });
  return report;
}

function describeClose(body: EventBody | undefined): string {
  if (body?.type === "WorkflowCompleted") return `completed with ${body.result}`;
  if (body?.type === "WorkflowFailed") return `failed with ${JSON.stringify(body.error.message)}`;
  if (body?.type === "WorkflowContinuedAsNew") return `continued as new with ${body.input}`;
  if (body?.type === "WorkflowCancelled") return "cancelled";
  return "still running";
}

/** Checks the history's shape and brings the CLI's JSON form to HistoryEvent. */
function normalise(
  recorded: RecordedHistory,
  givenId: string | undefined,
): { events: HistoryEvent[]; started: Extract<EventBody, { type: "WorkflowStarted" }> } {
  if (!Array.isArray(recorded) || recorded.length === 0)
    throw new InvalidInputError("a history to replay must be a non-empty array of events");
  const events: HistoryEvent[] = [];
  let workflowId: string | undefined;
  let started: Extract<EventBody, { type: "WorkflowStarted" }> | undefined;
  for (const [index, raw] of recorded.entries()) {
    const entry = raw as Partial<HistoryEvent> & { type?: string; at?: number | string };
    const rawBody = (entry.body ?? {}) as Partial<EventBody>;
    const type = rawBody.type ?? entry.type;
    const at = typeof entry.at === "string" ? Date.parse(entry.at) : entry.at;
    if (typeof type !== "string" || typeof at !== "number" || Number.isNaN(at))
      throw new InvalidInputError(`history event ${index + 1} has no type or no time`);
    // A later run's WorkflowStarted may open the history (the runs from there on are checked).
    const firstSeq = index === 0 && typeof entry.seq === "number" ? entry.seq : events[0]?.seq;
    if (
      typeof entry.seq !== "number" ||
      !Number.isInteger(entry.seq) ||
      entry.seq < 1 ||
      entry.seq !== (firstSeq ?? 1) + index
    ) {
      throw new InvalidInputError(
        `history event ${index + 1} has seq ${String(entry.seq)}: give the history from a WorkflowStarted on, every event in order`,
      );
    }
    const body = { ...rawBody, type } as EventBody;
    if (index === 0) {
      if (body.type !== "WorkflowStarted")
        throw new InvalidInputError(`a history starts with WorkflowStarted, this one with ${type}`);
      started = body;
      workflowId = entry.workflowId ?? givenId ?? "replay";
    }
    if (entry.workflowId !== undefined && entry.workflowId !== workflowId) {
      throw new InvalidInputError(
        `history event ${index + 1} is of run ${entry.workflowId}, not ${workflowId}`,
      );
    }
    events.push({ workflowId: workflowId!, seq: entry.seq, at, body });
  }
  return { events, started: started! };
}
