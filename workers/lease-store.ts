import { attemptPath } from "../core/ids";
import type { AttemptRef } from "./attempt";
import type { WaitOptions } from "../core/until-available";
import type { TaskPosition } from "./task-position";

/** A held lock on one attempt. */
export interface LeaseLock {
  /** Resolves with the extended lock (the old one is invalid afterwards); rejects when lost. */
  extend(durationMs: number): Promise<LeaseLock>;
  release(): Promise<unknown>;
  /**
   * Sets the attempt's done-marker, then gives the lock back, in one step. A store that can
   * (Redis, in one script: one round trip rather than two, for every step a worker runs)
   * offers it; StepLease otherwise marks done, then releases.
   */
  releaseDone?(workerId: string): Promise<void>;
}

/**
 * The lease port: what workers need to run an attempt at most once at a time and not again
 * once reported. Redis implements it across processes (adapters/redis/step-lease-store.ts);
 * in embedded mode, where one process holds the log, a map in memory does
 * (adapters/in-process/step-lease-store.ts).
 */
export interface StepLeaseStore {
  /** True once `markDone` was called for the attempt (and the marker has not expired). */
  isDone(ref: AttemptRef): Promise<boolean>;
  /** `task`: where the attempt's task sits, so a store can forget the marker once committed. */
  markDone(ref: AttemptRef, workerId: string, task?: TaskPosition): Promise<void>;
  /** The attempt's lock for `durationMs`, or undefined when someone else holds it. */
  tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined>;
  /**
   * In one step: "done" when the attempt's done-marker is set, else its lock as `tryLock`
   * takes it. A store that can (Redis, in one script: one round trip rather than three) offers
   * it; StepLeases otherwise checks, locks and checks again.
   */
  lockUnlessDone?(ref: AttemptRef, durationMs: number): Promise<LeaseLock | "done" | undefined>;
  /**
   * Connects a store that needs it before first use, waiting (and saying so on /readyz) while
   * what it stands on is unreachable; the worker's start calls it. A second call waits for the
   * first.
   */
  open?(wait: WaitOptions): Promise<void>;
}

/** How long a done-marker outlives the attempt it marks. */
export const DONE_MARKER_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export { attemptPath };
