import type { Redis } from "ioredis";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { workerKeys, type AttemptRef } from "./redis-keys";
import {
  createRedlock,
  lockedByOther,
  ResourceLockedError,
  type Lock,
  type Redlock,
} from "./redlock";
import { sleep } from "./sleep";

/** How long a done-marker outlives the attempt it marks. */
export const DONE_MARKER_TTL_SECONDS = 7 * 24 * 60 * 60;

/** A lease held on one attempt while it runs. */
export interface HeldLease {
  /** Extends the lease now. Never rejects. */
  extend(): Promise<void>;
  /** Gives the lease back. Never rejects. */
  release(): Promise<void>;
}

/** What the step runner needs to run an attempt at most once at a time and not again. */
export interface AttemptLeases {
  acquire(ref: AttemptRef, log: Logger, stopping: AbortSignal): Promise<LeaseResult>;
  markDone(ref: AttemptRef): Promise<void>;
}

export type LeaseResult =
  /** This worker holds the attempt's lease and should run it. */
  | { kind: "acquired"; lease: HeldLease }
  /** The attempt's result was already reported: nothing to run. */
  | { kind: "done" }
  /** The worker is stopping: give the task up without running it. */
  | { kind: "stopped" };

/**
 * The Redis side of running a step at most once at a time and not again once reported:
 * a done-marker per attempt, and a lease (a redlock lock) held while the attempt runs.
 */
export class StepLeases implements AttemptLeases {
  private readonly redlock: Redlock;
  private readonly retryMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly config: WeftConfig,
    readonly leaseMs: number,
    private readonly workerId: string,
    logger: Logger,
  ) {
    if (!Number.isInteger(leaseMs) || leaseMs < 300) {
      throw new RangeError(`leaseMs must be an integer of at least 300, got ${leaseMs}`);
    }
    this.redlock = createRedlock([redis], { retryCount: 0 });
    // Redlock emits every failed vote; a held lock is the normal case, not worth a line.
    this.redlock.on("error", (err: unknown) => {
      if (err instanceof ResourceLockedError) return;
      logger.warn({ err }, "lease operation failed");
    });
    this.retryMs = Math.max(50, Math.min(1000, Math.floor(leaseMs / 4)));
  }

  async isDone(ref: AttemptRef): Promise<boolean> {
    return (await this.redis.exists(workerKeys.done(this.config, ref))) === 1;
  }

  async markDone(ref: AttemptRef): Promise<void> {
    await this.redis.set(
      workerKeys.done(this.config, ref),
      JSON.stringify({ workerId: this.workerId, at: Date.now() }),
      "EX",
      DONE_MARKER_TTL_SECONDS,
    );
  }

  /**
   * Takes the attempt's lease, waiting while another worker holds it. Between tries it checks
   * the done-marker: a duplicate delivery ends when the holder reports; a task whose worker
   * died runs here once the dead worker's lease expires. Redis errors are logged and retried.
   */
  async acquire(ref: AttemptRef, log: Logger, stopping: AbortSignal): Promise<LeaseResult> {
    const key = workerKeys.lease(this.config, ref);
    let waitingLogged = false;
    for (;;) {
      if (stopping.aborted) return { kind: "stopped" };
      try {
        if (await this.isDone(ref)) return { kind: "done" };
        const lock = await this.tryLock(key);
        if (lock) {
          // The holder may have reported and released between our check and our lock.
          if (await this.isDone(ref)) {
            await lock.release().catch(() => undefined);
            return { kind: "done" };
          }
          return { kind: "acquired", lease: new StepLease(lock, this.leaseMs, log) };
        }
        if (!waitingLogged) {
          log.info(
            "attempt is leased by another worker; waiting for its result or its lease to expire",
          );
          waitingLogged = true;
        }
      } catch (err) {
        log.warn({ err }, "Redis error while taking the lease; retrying");
      }
      await sleep(this.retryMs, stopping);
    }
  }

  /** Resolves with the lock, or undefined when someone else holds it. Throws on Redis errors. */
  private async tryLock(key: string): Promise<Lock | undefined> {
    try {
      return await this.redlock.acquire([key], this.leaseMs);
    } catch (err) {
      if (await lockedByOther(err)) return undefined;
      throw err;
    }
  }
}

/** A held lease: extended periodically and on demand, released when the attempt ends. */
export class StepLease implements HeldLease {
  private timer: NodeJS.Timeout | undefined;
  private extending: Promise<void> | undefined;
  private released = false;
  private lostLogged = false;

  constructor(
    private lock: Lock,
    private readonly leaseMs: number,
    private readonly log: Logger,
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
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.extending) await this.extending;
    try {
      await this.lock.release();
    } catch (err) {
      // It expires on its own.
      this.log.debug({ err }, "could not release the lease");
    }
  }
}
