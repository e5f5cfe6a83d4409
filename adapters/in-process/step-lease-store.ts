import { attemptPath } from "../../core/ids";
import type { AttemptRef } from "../../workers/attempt";
import type { LeaseLock, StepLeaseStore } from "../../workers/lease-store";
import { DONE_MARKER_TTL_MS } from "../../workers/lease-store";
import type { TaskPosition } from "../../workers/task-position";
import { DoneMarkerJournal, type DoneMarker } from "./done-marker-journal";

/**
 * Where the workers committed on a task partition (the lowest offset every group that commits
 * there committed): a task below it is never delivered again. Undefined when none committed.
 */
export type TaskCommits = (topic: string, partition: number) => number | undefined;

/** Rewrite the journal when it holds this many times more lines than live markers (and 10k+). */
const COMPACT_RATIO = 4;
const COMPACT_MIN_LINES = 10_000;

/**
 * Leases and done-markers in this process's memory. Right for embedded mode, where every
 * worker of the installation runs in the process that holds the log's directory lock: leases
 * need not outlive the process. Done-markers do, as in Redis, when the store is opened on a
 * file (`open`): then a task whose result was reported before a crash, but whose offset was
 * not yet committed, does not run again after the restart. Without the file they are lost
 * with the process and such a step runs again (the decider applies its first result only).
 *
 * A marker is needed only while its task can be delivered again: given the task's position
 * and the log's committed offsets (`commits`), it is forgotten once the workers committed past
 * the task, so memory and the file follow the attempts in flight, not every attempt of the
 * TTL's week. A marker without a position keeps the TTL.
 */
export class InProcessStepLeaseStore implements StepLeaseStore {
  private readonly done = new Map<string, DoneMarker>();
  private readonly locks = new Map<string, { token: number; expiresAt: number }>();
  private nextToken = 1;

  constructor(
    private readonly journal?: DoneMarkerJournal,
    private readonly commits?: TaskCommits,
  ) {
    if (journal) for (const [key, marker] of journal.loaded) this.done.set(key, marker);
  }

  /** A store whose done-markers are kept in the file at `path` too. */
  static async open(path: string, commits?: TaskCommits): Promise<InProcessStepLeaseStore> {
    const now = Date.now();
    const journal = await DoneMarkerJournal.open(path, (m) => isLive(m, now, commits));
    return new InProcessStepLeaseStore(journal, commits);
  }

  /** Done-markers held (for tests and memory figures). */
  get markers(): number {
    return this.done.size;
  }

  /** Closes the done-marker file, if any. */
  async close(): Promise<void> {
    await this.journal?.close();
  }

  isDone(ref: AttemptRef): Promise<boolean> {
    const key = attemptPath(ref);
    const marker = this.done.get(key);
    if (marker !== undefined && marker.until <= Date.now()) this.done.delete(key);
    return Promise.resolve(marker !== undefined && marker.until > Date.now());
  }

  markDone(ref: AttemptRef, _workerId?: string, task?: TaskPosition): Promise<void> {
    const now = Date.now();
    this.forgetSettled(now);
    const key = attemptPath(ref);
    const until = now + DONE_MARKER_TTL_MS;
    const marker: DoneMarker = task ? { until, task } : { until };
    this.done.delete(key);
    this.done.set(key, marker);
    if (!this.journal) return Promise.resolve();
    const written = this.journal.append(key, marker);
    const lines = this.journal.lineCount;
    if (lines >= COMPACT_MIN_LINES && lines > COMPACT_RATIO * this.done.size) {
      // A failed rewrite leaves the old file, which holds every marker: nothing is lost.
      this.journal.compact(() => new Map(this.done)).catch(() => undefined);
    }
    return written;
  }

  /**
   * Map order is marking order, close to task order: markers are forgotten from the front
   * while they are expired or their task was committed past; the first still needed stops it.
   */
  private forgetSettled(now: number): void {
    for (const [key, marker] of this.done) {
      if (isLive(marker, now, this.commits)) break;
      this.done.delete(key);
    }
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

function isLive(marker: DoneMarker, now: number, commits: TaskCommits | undefined): boolean {
  if (marker.until <= now) return false;
  const { task } = marker;
  if (!task || !commits) return true;
  const committed = commits(task.topic, task.partition);
  return committed === undefined || committed <= task.offset;
}
