import type { Redis } from "ioredis";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { AttemptRef } from "./attempt";
import { DONE_MARKER_TTL_MS, type LeaseLock, type StepLeaseStore } from "./lease-store";
import { workerKeys } from "./redis-keys";
import { createRedlock, lockedByOther, ResourceLockedError, type Redlock } from "./redlock";

/**
 * Step leases and done-markers in Redis, shared by every worker of an installation: a
 * done-marker key per attempt (kept a week) and a redlock lock per attempt while it runs.
 */
export class RedisStepLeaseStore implements StepLeaseStore {
  private readonly redlock: Redlock;

  constructor(
    private readonly redis: Redis,
    private readonly config: WeftConfig,
    logger: Logger,
  ) {
    this.redlock = createRedlock([redis], { retryCount: 0 });
    // Redlock emits every failed vote; a held lock is the normal case, not worth a line.
    this.redlock.on("error", (err: unknown) => {
      if (err instanceof ResourceLockedError) return;
      logger.warn({ err }, "lease operation failed");
    });
  }

  async isDone(ref: AttemptRef): Promise<boolean> {
    return (await this.redis.exists(workerKeys.done(this.config, ref))) === 1;
  }

  async markDone(ref: AttemptRef, workerId: string): Promise<void> {
    await this.redis.set(
      workerKeys.done(this.config, ref),
      JSON.stringify({ workerId, at: Date.now() }),
      "PX",
      DONE_MARKER_TTL_MS,
    );
  }

  /** Throws on Redis errors. */
  async tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined> {
    try {
      return await this.redlock.acquire([workerKeys.lease(this.config, ref)], durationMs);
    } catch (err) {
      if (await lockedByOther(err)) return undefined;
      throw err;
    }
  }
}
