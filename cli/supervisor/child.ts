/**
 * The child side of `weft start --processes N`: who this child is, telling the supervisor its
 * roles run, and serving the supervisor's counts in its own /metrics.
 */
import cluster from "node:cluster";
import { hostname } from "node:os";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  CHILD_INDEX_ENV,
  isSupervisorState,
  SUPERVISOR_PID_ENV,
  type ChildReady,
} from "./protocol";

export interface SupervisedChild {
  /** Its slot, 0 to N-1. */
  readonly index: number;
  readonly supervisorPid: number;
  /**
   * `<host>-<supervisor pid>.<index>-<pid>`: its worker ID, and the base of its client ID, so
   * the ID it registers under says which supervisor and slot it is.
   */
  readonly processId: string;
}

/** This process as a supervised child, or undefined when no `weft start --processes` forked it. */
export function supervisedChild(env: NodeJS.ProcessEnv = process.env): SupervisedChild | undefined {
  const supervisorPid = Number(env[SUPERVISOR_PID_ENV]);
  const index = Number(env[CHILD_INDEX_ENV]);
  if (!cluster.isWorker || !Number.isInteger(supervisorPid) || !Number.isInteger(index)) {
    return undefined;
  }
  return {
    index,
    supervisorPid,
    processId: `${hostname()}-${supervisorPid}.${index}-${process.pid}`,
  };
}

/** Tells the supervisor this child's roles run. */
export function reportReady(ready: Omit<ChildReady, "weft">): void {
  const message: ChildReady = { weft: "child-ready", ...ready };
  process.send?.(message);
}

/**
 * Serves the supervisor's counts, as it last sent them, in this child's registry. Every child
 * serves the same counts, so they read the same whichever child a scrape reaches (with the api
 * role the children share one port and node:cluster hands each connection to one of them).
 * Call before `reportReady`: the supervisor answers a ready child with its counts.
 */
export function serveSupervisorMetrics(registry: Registry, child: SupervisedChild): void {
  const children = new Gauge({
    name: "weft_supervisor_children",
    help: "Children of this process's supervisor running now (weft start --processes)",
    registers: [registry],
  });
  const restarts = new Counter({
    name: "weft_supervisor_restarts_total",
    help: "Children the supervisor forked again after one exited on its own",
    registers: [registry],
  });
  new Gauge({
    name: "weft_supervisor_child_index",
    help: "The slot (0 to N-1) of the child that answered this scrape",
    registers: [registry],
  }).set(child.index);
  let counted = 0;
  process.on("message", (message: unknown) => {
    if (!isSupervisorState(message)) return;
    children.set(message.children);
    // The supervisor's total only grows; this child's counter follows it from wherever the
    // child joined.
    if (message.restarts > counted) restarts.inc(message.restarts - counted);
    counted = Math.max(counted, message.restarts);
  });
}
