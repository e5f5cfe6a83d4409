/*
 * How long a worker's stop waits, in a module of its own: the supervisor sizes its drain from
 * it without loading the worker.
 */

export const DEFAULT_SHUTDOWN_GRACE_MS = 15_000;
/** After the abort, how long stop still waits for steps that ignore their signal. */
export const ABORT_GRACE_MS = 5000;
/**
 * The longest a worker's stop waits for running steps at the default grace: a process manager
 * that kills on a timeout must give a stopping process more than this.
 */
export const WORKER_DRAIN_MS = DEFAULT_SHUTDOWN_GRACE_MS + ABORT_GRACE_MS;
