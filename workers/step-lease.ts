import type { Logger } from "../core/logger";
import type { AttemptRef } from "./attempt";
import type { TaskPosition } from "./task-position";
import type { LeaseLock, StepLeaseStore } from "./lease-store";
import type { SignalFanOut } from "../core/signal-fan-out";

export type LeaseResult =
  /** This worker holds the attempt's lease and should run it. */
  | { kind: "acquired"; lease: StepLease }
  /** The attempt's result was already reported: nothing to run. */
  | { kind: "done" }
  /** The worker is stopping: give the task up without running it. */
  | { kind: "stopped" };

/**
 * Running a step at most once at a time and not again once reported, over a lease store
 * (Redis, or memory in embedded mode): a done-marker per attempt, and a lease held while the
 * attempt runs.
 */
export class StepLeases {
  private readonly retryMs: number;

  constructor(
    private readonly store: StepLeaseStore,
    readonly leaseMs: number,
    private readonly workerId: string,
  ) {
    if (!Number.isInteger(leaseMs) || leaseMs < 300) {
      throw new RangeError(`leaseMs must be an integer of at least 300, got ${leaseMs}`);
    }
    this.retryMs = Math.max(50, Math.min(1000, Math.floor(leaseMs / 4)));
  }

  /** "done", the attempt's lock, or undefined while another worker holds it. */
  private async lockUnlessDone(ref: AttemptRef): Promise<LeaseLock | "done" | undefined> {
    if (this.store.lockUnlessDone) return this.store.lockUnlessDone(ref, this.leaseMs);
    if (await this.store.isDone(ref)) return "done";
    const lock = await this.store.tryLock(ref, this.leaseMs);
    // The holder may have reported and released between our check and our lock.
    if (lock && (await this.store.isDone(ref))) {
      await lock.release().catch(() => undefined);
      return "done";
    }
    return lock;
  }

  /**
   * Takes the attempt's lease, waiting while another worker holds it. Between tries it checks
   * the done-marker: a duplicate delivery ends when the holder reports; a task whose worker
   * died runs here once the dead worker's lease expires. Store errors are logged and retried.
   */
  async acquire(ref: AttemptRef, log: Logger, stopping: SignalFanOut): Promise<LeaseResult> {
    let waitingLogged = false;
    for (;;) {
      if (stopping.aborted) return { kind: "stopped" };
      try {
        const lock = await this.lockUnlessDone(ref);
        if (lock === "done") return { kind: "done" };
        if (lock) {
          const markDone = (task?: TaskPosition) => this.store.markDone(ref, this.workerId, task);
          const lease = new StepLease(lock, this.leaseMs, log, this.workerId, markDone);
          return { kind: "acquired", lease };
        }
        if (!waitingLogged) {
          log.info(
            "attempt is leased by another worker; waiting for its result or its lease to expire",
          );
          waitingLogged = true;
        }
      } catch (err) {
        log.warn({ err }, "could not take the lease; retrying");
      }
      await stopping.sleep(this.retryMs);
    }
  }
}

const NOT_MARKED = "could not set the done-marker; a redelivery would run the attempt again";

/** A held lease: extended periodically and on demand, released when the attempt ends. */
export class StepLease {
  private timer: NodeJS.Timeout | undefined;
  private extending: Promise<void> | undefined;
  private released = false;
  private lostLogged = false;

  constructor(
    private lock: LeaseLock,
    private readonly leaseMs: number,
    private readonly log: Logger,
    private readonly workerId: string,
    private readonly markDone: (task?: TaskPosition) => Promise<void>,
  ) {
    this.timer = setInterval(() => void this.extend(), Math.max(50, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  /** Extends the lease now; concurrent calls share one extension. Never rejects. */
  extend(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.extending ??= (async () => {
      try {
        this.lock = await this.lock.extend(this.leaseMs);
      } catch (err) {
        if (!this.lostLogged) {
          this.lostLogged = true;
          this.log.warn(
            { err },
            "could not extend the lease; another worker may run this attempt too",
          );
        }
      } finally {
        this.extending = undefined;
      }
    })();
    return this.extending;
  }

  /** Stops extending and gives the lease back. Never rejects. */
  async release(): Promise<void> {
    if (!(await this.stopExtending())) return;
    await this.giveBack();
  }

  /**
   * The attempt was reported: sets its done-marker (`task`: where its task sits), then gives
   * the lease back, in one step where the store can. Never rejects.
   */
  async releaseDone(task?: TaskPosition): Promise<void> {
    if (!(await this.stopExtending())) return;
    if (this.lock.releaseDone) {
      try {
        await this.lock.releaseDone(this.workerId);
      } catch (err) {
        // The lease expires on its own.
        this.log.warn({ err }, NOT_MARKED);
      }
      return;
    }
    try {
      await this.markDone(task);
    } catch (err) {
      this.log.warn({ err }, NOT_MARKED);
    }
    await this.giveBack();
  }

  /** False when the lease was given back already. */
  private async stopExtending(): Promise<boolean> {
    if (this.released) return false;
    this.released = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.extending) await this.extending;
    return true;
  }

  private async giveBack(): Promise<void> {
    try {
      await this.lock.release();
    } catch (err) {
      // It expires on its own.
      this.log.debug({ err }, "could not release the lease");
    }
  }
}
