import type { AttemptRef } from "./attempt";
import { DoneMarkerJournal } from "./done-marker-journal";

/** A held lock on one attempt. */
export interface LeaseLock {
  /** Resolves with the extended lock (the old one is invalid afterwards); rejects when lost. */
  extend(durationMs: number): Promise<LeaseLock>;
  release(): Promise<unknown>;
}

/**
 * The lease port: what workers need to run an attempt at most once at a time and not again
 * once reported. Redis implements it across processes (`RedisStepLeaseStore`); in embedded
 * mode, where one process holds the log, a map in memory does (`InProcessStepLeaseStore`).
 */
export interface StepLeaseStore {
  /** True once `markDone` was called for the attempt (and the marker has not expired). */
  isDone(ref: AttemptRef): Promise<boolean>;
  markDone(ref: AttemptRef, workerId: string): Promise<void>;
  /** The attempt's lock for `durationMs`, or undefined when someone else holds it. */
  tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined>;
}

/** How long a done-marker outlives the attempt it marks. */
export const DONE_MARKER_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export function attemptPath(ref: AttemptRef): string {
  return `${ref.workflowId}/${ref.stepSeq}/${ref.attempt}`;
}

/**
 * Leases and done-markers in this process's memory. Right for embedded mode, where every
 * worker of the installation runs in the process that holds the log's directory lock: leases
 * need not outlive the process. Done-markers do, as in Redis, when the store is opened on a
 * file (`open`): then a task whose result was reported before a crash, but whose offset was
 * not yet committed, does not run again after the restart. Without the file they are lost
 * with the process and such a step runs again (the decider applies its first result only).
 */
export class InProcessStepLeaseStore implements StepLeaseStore {
  private readonly done = new Map<string, number>();
  private readonly locks = new Map<string, { token: number; expiresAt: number }>();
  private nextToken = 1;

  constructor(private readonly journal?: DoneMarkerJournal) {
    if (journal) for (const [key, until] of journal.loaded) this.done.set(key, until);
  }

  /** A store whose done-markers are kept in the file at `path` too. */
  static async open(path: string): Promise<InProcessStepLeaseStore> {
    return new InProcessStepLeaseStore(await DoneMarkerJournal.open(path));
  }

  /** Closes the done-marker file, if any. */
  async close(): Promise<void> {
    await this.journal?.close();
  }

  isDone(ref: AttemptRef): Promise<boolean> {
    const key = attemptPath(ref);
    const until = this.done.get(key);
    if (until !== undefined && until <= Date.now()) this.done.delete(key);
    return Promise.resolve(until !== undefined && until > Date.now());
  }

  markDone(ref: AttemptRef): Promise<void> {
    // Map order is insertion order: drop expired markers from the front as new ones come.
    const now = Date.now();
    for (const [key, until] of this.done) {
      if (until > now) break;
      this.done.delete(key);
    }
    const key = attemptPath(ref);
    const until = now + DONE_MARKER_TTL_MS;
    this.done.delete(key);
    this.done.set(key, until);
    return this.journal ? this.journal.append(key, until) : Promise.resolve();
  }

  tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined> {
    const key = attemptPath(ref);
    const held = this.locks.get(key);
    if (held && held.expiresAt > Date.now()) return Promise.resolve(undefined);
    const token = this.nextToken++;
    this.locks.set(key, { token, expiresAt: Date.now() + durationMs });
    return Promise.resolve(this.lock(key, token));
  }

  private lock(key: string, token: number): LeaseLock {
    return {
      extend: (durationMs) => {
        const held = this.locks.get(key);
        if (held?.token !== token || held.expiresAt <= Date.now()) {
          return Promise.reject(new Error(`the lease ${key} was lost`));
        }
        held.expiresAt = Date.now() + durationMs;
        return Promise.resolve(this.lock(key, token));
      },
      release: () => {
        if (this.locks.get(key)?.token === token) this.locks.delete(key);
        return Promise.resolve();
      },
    };
  }
}
