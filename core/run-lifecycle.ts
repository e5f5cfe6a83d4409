/**
 * How a run ends, in one place for every reader of history: the decider's fold, the replay
 * check, the projector, the run operations and the client. A run is open from its
 * WorkflowStarted until one of the events below; nothing of that run follows it (a run
 * continued as new lives on as the next run under its workflow ID). A blocked run is open.
 */

/** How a run ended for good: it takes no more commands. */
export type ClosedStatus = "completed" | "failed" | "cancelled";

/** What a run's last event leaves: an end for good, or continued as the next run. */
export type EndStatus = ClosedStatus | "continued";

/** The events that end a run, and the status each leaves. */
export const RUN_ENDS = {
  WorkflowCompleted: "completed",
  WorkflowFailed: "failed",
  WorkflowCancelled: "cancelled",
  WorkflowContinuedAsNew: "continued",
} as const satisfies Record<string, EndStatus>;

export type EndEventType = keyof typeof RUN_ENDS;

/** The status an event of this type ends its run in, or undefined when it ends none. */
export function endStatus(type: string): EndStatus | undefined {
  return Object.hasOwn(RUN_ENDS, type) ? RUN_ENDS[type as EndEventType] : undefined;
}

/** The statuses of a run that has ended for good (a continued or blocked run has not). */
export const CLOSED_STATUSES: ReadonlySet<string> = new Set<ClosedStatus>([
  "completed",
  "failed",
  "cancelled",
]);

export function isClosedStatus(status: string): status is ClosedStatus {
  return CLOSED_STATUSES.has(status);
}
