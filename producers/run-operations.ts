/**
 * Run operations that start a new run from a recorded one: a re-run (same type, same input)
 * and a reset to a step (a re-run that takes the recorded results of the steps before that
 * step instead of running them). Pure: every front end (the SDK client and the test kit from
 * `weft.history`, the API from the read models' events) reads the source run's events its own
 * way and builds the start here, so all three refuse and derive the same.
 *
 * The reused results travel whole in the start (and the decider copies them into the new run's
 * WorkflowStarted): the new run replays from its own history alone, even once the source's is
 * gone, and the decider reads no other run's history while it decides.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  InvalidInputError,
  InvalidResetPointError,
  RunNotFoundError,
  RunOpenError,
} from "../core/errors";
import { assertWorkflowId } from "../core/ids";
import { MAX_PAYLOAD_BYTES } from "../core/json";
import { endStatus } from "../core/run-lifecycle";
import type { HistoryEvent, JsonText, ResetFrom, ReusedStep } from "../schemas/types";
import type { CommandOf } from "./workflow-commands";

/** The latest run of a workflow ID, as its recorded events show it. */
export interface SourceRun {
  workflowId: string;
  workflowType: string;
  input: JsonText;
  /** The seq of its WorkflowStarted. */
  startSeq: number;
  /** completed, failed or cancelled once closed; else open (running or blocked). */
  status: "open" | "completed" | "failed" | "cancelled";
  /** Its events, from its WorkflowStarted on. */
  events: readonly HistoryEvent[];
}

/**
 * The recorded results a reset may carry in all: the start must stay well under a broker's
 * 1 MiB record limit. Checked before anything is sent.
 */
export const MAX_RESET_RESULT_BYTES = MAX_PAYLOAD_BYTES;

/** The workflow ID's latest run in these events (its history, in seq order), if any. */
export function latestRun(
  workflowId: string,
  events: readonly HistoryEvent[],
): SourceRun | undefined {
  let start = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]!.body.type === "WorkflowStarted") {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  const first = events[start]!;
  if (first.body.type !== "WorkflowStarted") return undefined;
  const runEvents = events.slice(start);
  let status: SourceRun["status"] = "open";
  for (const event of runEvents) {
    // A continued run's next run follows in these events: that one is the latest.
    const end = endStatus(event.body.type);
    if (end && end !== "continued") status = end;
  }
  return {
    workflowId,
    workflowType: first.body.workflowType,
    input: first.body.input,
    startSeq: first.seq,
    status,
    events: runEvents,
  };
}

/** As `latestRun`, for an operation on it: NOT_FOUND when the events hold no run of the ID. */
export function sourceRun(workflowId: string, events: readonly HistoryEvent[]): SourceRun {
  const run = latestRun(workflowId, events);
  if (!run) throw new RunNotFoundError(workflowId);
  return run;
}

/**
 * What a reset of the run to `toStepSeq` reuses: the results of its steps before that one
 * that completed (a step that failed, or never ended, runs again, as do the step named and
 * every step after it). Throws RUN_OPEN for an open run (its steps may still complete),
 * INVALID_RESET_POINT when the run never scheduled that step, INVALID_INPUT when the results
 * are more than a start may carry.
 */
export function resetFrom(run: SourceRun, toStepSeq: number): ResetFrom {
  if (run.status === "open") throw new RunOpenError(run.workflowId, "open", "a reset");
  const names = new Map<number, string>();
  for (const event of run.events)
    if (event.body.type === "StepScheduled") names.set(event.body.stepSeq, event.body.stepName);
  if (!Number.isSafeInteger(toStepSeq) || !names.has(toStepSeq))
    throw new InvalidResetPointError(run.workflowId, toStepSeq, [...names.keys()]);
  const steps: ReusedStep[] = [];
  let bytes = 0;
  for (const event of run.events) {
    const body = event.body;
    if (body.type !== "StepCompleted" || body.stepSeq >= toStepSeq) continue;
    bytes += Buffer.byteLength(body.result);
    steps.push({ stepSeq: body.stepSeq, stepName: names.get(body.stepSeq)!, result: body.result });
  }
  if (bytes > MAX_RESET_RESULT_BYTES) {
    throw new InvalidInputError(
      `the results a reset of ${run.workflowId} to step ${toStepSeq} would reuse take ${bytes} bytes; the limit is ${MAX_RESET_RESULT_BYTES}: reset to an earlier step`,
      { bytes, limit: MAX_RESET_RESULT_BYTES },
    );
  }
  return { sourceWorkflowId: run.workflowId, sourceRunStartSeq: run.startSeq, toStepSeq, steps };
}

/**
 * Where a reset "to the failed step" goes: the first step the run scheduled that never
 * completed (it failed, timed out or was cut short). A step its code cancelled with its scope
 * (StepCancelled) did not fail: the code chose to stop it. INVALID_RESET_POINT when every
 * step it scheduled completed or was cancelled so (the workflow's own code failed it: a
 * re-run is what it needs).
 */
export function failedStepOf(run: SourceRun): number {
  const done = new Set<number>();
  const scheduled: number[] = [];
  for (const event of run.events) {
    const body = event.body;
    if (body.type === "StepScheduled" && !scheduled.includes(body.stepSeq))
      scheduled.push(body.stepSeq);
    else if (body.type === "StepCompleted" || body.type === "StepCancelled") done.add(body.stepSeq);
  }
  const failed = scheduled.filter((seq) => !done.has(seq)).sort((a, b) => a - b)[0];
  if (failed === undefined) throw new InvalidResetPointError(run.workflowId, null, scheduled);
  return failed;
}

export interface NewRunOptions {
  /**
   * The new run's workflow ID. The source's own ID starts the new run under it (the source must
   * be closed: the start carries the `allowAfterClose` reuse policy). Default: an ID derived
   * from the source's and the request ID, so a retry with the same request ID is the same run.
   */
  workflowId?: string;
  /** Names the operation; default a new UUID (returned with the result). */
  requestId?: string;
}

/** A re-run: a new run of the source's type with its input. */
export function rerunCommand(
  run: SourceRun,
  options: NewRunOptions = {},
): CommandOf<"StartWorkflow"> {
  return newRunCommand(run, "rerun", null, options);
}

/** A reset to a step: a re-run that reuses the results recorded before `toStepSeq`. */
export function resetCommand(
  run: SourceRun,
  toStepSeq: number,
  options: NewRunOptions = {},
): CommandOf<"StartWorkflow"> {
  return newRunCommand(run, "reset", resetFrom(run, toStepSeq), options);
}

function newRunCommand(
  run: SourceRun,
  operation: "rerun" | "reset",
  reset: ResetFrom | null,
  options: NewRunOptions,
): CommandOf<"StartWorkflow"> {
  const requestId = options.requestId ?? randomUUID();
  if (typeof requestId !== "string" || requestId.trim() === "" || requestId.length > 200)
    throw new InvalidInputError("a request ID is 1 to 200 characters");
  const workflowId = assertWorkflowId(
    options.workflowId ?? derivedRunId(run.workflowId, operation, requestId),
  );
  const sameId = workflowId === run.workflowId;
  // Under its own ID the new run follows the closed one; an open run would take the start as
  // its duplicate, which is not what was asked for.
  if (sameId && run.status === "open")
    throw new RunOpenError(run.workflowId, "open", `a ${operation} under the run's own ID`);
  return {
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "StartWorkflow",
      workflowType: run.workflowType,
      input: run.input,
      idempotencyKey: null,
      requestId,
      idReusePolicy: sameId ? "allowAfterClose" : null,
      signal: null,
      executionTimeoutMs: null,
      reset,
    },
  };
}

/**
 * `<source>.<operation>-<16 hex>`: readable next to its source in a list, the same for a retry
 * with the same request ID (which the decider then deduplicates as any start), and at most 200
 * characters whatever the source's length.
 */
export function derivedRunId(sourceId: string, operation: string, requestId: string): string {
  const digest = createHash("sha256")
    .update(`${sourceId}\u0000${operation}\u0000${requestId}`)
    .digest("hex");
  return `${sourceId.slice(0, 160)}.${operation}-${digest.slice(0, 16)}`;
}
