/** What the CLI reads about a run through the API, and how it says it in words. */
import { cut, duration, time } from "./tables";

export type RunStatus = "PENDING" | "RUNNING" | "BLOCKED" | "COMPLETED" | "FAILED" | "CANCELLED";

/** The fields of `Workflow` that `wait` and `describe` need. */
export interface RunView {
  id: string;
  type: string;
  status: RunStatus;
  input: unknown;
  result: unknown;
  error: unknown;
  blockedCode: string | null;
  blockedReason: string | null;
  waitingOn: WaitItem[];
  startedAt: string;
  closedAt: string | null;
  lastSeq: number;
  /** The seq of the current run's WorkflowStarted (later runs of the ID start higher). */
  runStartSeq: number;
  /** PENDING and no live decider hosts its type. */
  waitingForDecider: boolean;
}

export const RUN_FIELDS = `id type status input result error blockedCode blockedReason waitingOn startedAt closedAt lastSeq runStartSeq waitingForDecider`;

/** One entry of `waitingOn` (projections/rows.ts `WaitItem`), read loosely. */
export interface WaitItem {
  kind: string;
  stepSeq?: number;
  stepName?: string;
  attempt?: number;
  nextAttempt?: number;
  state?: string;
  workerId?: string;
  timerSeq?: number;
  signalName?: string;
  childWorkflowId?: string;
  workflowType?: string;
  since?: string;
  dueAt?: string | null;
}

export const CLOSED_STATUSES: ReadonlySet<string> = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

/** What a run waits on now, in words; `now` makes due times relative. */
export function describeRunWaiting(run: RunView, now?: number): string {
  if (run.status === "PENDING") {
    return run.waitingForDecider
      ? `a decider hosting ${run.type} (none is alive: the start waits in Kafka)`
      : "a decider to take the start";
  }
  return describeWaiting(run.waitingOn, now);
}

/**
 * What a run waits on now, one short phrase per item: `step charge #2 (attempt 1, started on
 * w-1)`. Due times are absolute, or relative (`due in 4 s`) when `now` is given.
 */
export function describeWaiting(
  items: readonly WaitItem[] | null | undefined,
  now?: number,
): string {
  if (!items || items.length === 0) return "nothing";
  return items.map((item) => describeItem(item, now)).join("; ");
}

function describeItem(item: WaitItem, now: number | undefined): string {
  const until = !item.dueAt
    ? ""
    : now === undefined
      ? ` until ${time(item.dueAt)}`
      : ` due in ${duration(Math.max(0, Date.parse(item.dueAt) - now))}`;
  switch (item.kind) {
    case "step":
      return `step ${item.stepName ?? "?"} #${item.stepSeq ?? "?"} (attempt ${item.attempt ?? "?"}, ${
        item.state === "started"
          ? `started${item.workerId ? ` on ${item.workerId}` : ""}`
          : "queued"
      })`;
    case "retry":
      return `retry of step ${item.stepName ?? "?"} #${item.stepSeq ?? "?"} (attempt ${item.nextAttempt ?? "?"})${until}`;
    case "timer":
      return `timer${until}`;
    case "signal":
      return `signal ${JSON.stringify(item.signalName ?? "?")}${until}`;
    case "child":
      return `child workflow ${item.workflowType ?? "?"} ${item.childWorkflowId ?? "?"}`;
    default:
      return item.kind;
  }
}

/** The message of a run's `error` (an ErrorInfo, or `{ reason }` for a cancelled run). */
export function errorMessage(error: unknown): string {
  if (error === null || error === undefined) return "no error recorded";
  if (typeof error === "string") return error;
  const e = error as { message?: unknown; reason?: unknown; code?: unknown };
  const text =
    typeof e.message === "string"
      ? e.message
      : typeof e.reason === "string"
        ? e.reason
        : JSON.stringify(error);
  return cut(typeof e.code === "string" && e.code ? `${text} (${e.code})` : text, 400);
}

/** A cancelled run's reason, or null. */
export function cancelReason(error: unknown): string | null {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === "string" ? reason : null;
}

/** No row for the run: never started, or not stored by the projector yet. Exits 1. */
export function notFound(workflowId: string): Error {
  return new Error(
    `no workflow ${JSON.stringify(workflowId)} in the read models: it was never started, or the projector has not stored it yet`,
  );
}
