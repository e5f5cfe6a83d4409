/**
 * What the supervisor and its children tell each other over node:cluster's IPC channel, and
 * the environment a child is forked with. Both ends check a message's shape before using it:
 * anything else on the channel (node:cluster's own messages) is ignored.
 */

import type { WorkflowExample } from "../../workflow/definitions";

/** The supervisor's pid, in each child's environment. */
export const SUPERVISOR_PID_ENV = "WEFT_SUPERVISOR_PID";
/** The child's slot, 0 to N-1, in its environment; a restarted child keeps its slot. */
export const CHILD_INDEX_ENV = "WEFT_CHILD_INDEX";

/** Child → supervisor, once its roles run. */
export interface ChildReady {
  readonly weft: "child-ready";
  /** The ID it registers under (decider and worker roles), else null. */
  readonly processId: string | null;
  readonly apiAddress: string | null;
  readonly metricsAddress: string | null;
  readonly roles: readonly string[];
  readonly workflows: readonly string[];
  readonly steps: readonly string[];
  /** The workflows' examples (`defineWorkflow` option `example`), by name: for the banner. */
  readonly examples?: Readonly<Record<string, WorkflowExample>>;
}

/** Supervisor → each ready child, whenever the number of live children or of restarts changes. */
export interface SupervisorState {
  readonly weft: "supervisor-state";
  /** Children running now (forked and not exited). */
  readonly children: number;
  /** Children forked again after one exited on its own, since the supervisor started. */
  readonly restarts: number;
}

export function isChildReady(message: unknown): message is ChildReady {
  return isMessage(message, "child-ready");
}

export function isSupervisorState(message: unknown): message is SupervisorState {
  return (
    isMessage(message, "supervisor-state") &&
    Number.isInteger((message as { children?: unknown }).children) &&
    Number.isInteger((message as { restarts?: unknown }).restarts)
  );
}

function isMessage(message: unknown, kind: string): boolean {
  return (
    typeof message === "object" && message !== null && (message as { weft?: unknown }).weft === kind
  );
}
