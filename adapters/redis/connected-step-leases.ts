import { Redis } from "ioredis";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import type { Readiness } from "../../core/readiness";
import { untilAvailable, type WaitOptions } from "../../core/until-available";
import type { AttemptRef } from "../../workers/attempt";
import type { LeaseLock, StepLeaseStore } from "../../workers/lease-store";
import { RedisStepLeaseStore } from "./step-lease-store";

/**
 * The server installation's step leases: a Redis client of its own at `REDIS_URL`, connected
 * when the worker opens the store. ioredis reconnects on its own for as long as the client
 * lives; while it is not connected the worker shows as waiting for Redis on /readyz (leases
 * wait too, see StepLeases.acquire). Closed by whoever made it (the server backends).
 */
export class ConnectedRedisStepLeases implements StepLeaseStore {
  private readonly redisWait = Symbol("redis");
  private opening: Promise<RedisStepLeaseStore> | undefined;
  private store: RedisStepLeaseStore | undefined;
  private redis: Redis | undefined;
  private readiness: Readiness | undefined;
  private closed = false;

  constructor(
    private readonly config: WeftConfig,
    private readonly logger: Logger,
  ) {}

  /** Connects once Redis answers; a second call waits for the first. */
  open(wait: WaitOptions): Promise<void> {
    this.opening ??= this.connect(wait).catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening.then(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const redis = this.redis;
    this.redis = undefined;
    if (redis) await redis.quit().catch(() => redis.disconnect());
    this.readiness?.clear(this.redisWait);
  }

  isDone(ref: AttemptRef): Promise<boolean> {
    return this.opened().isDone(ref);
  }

  markDone(ref: AttemptRef, workerId: string): Promise<void> {
    return this.opened().markDone(ref, workerId);
  }

  tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined> {
    return this.opened().tryLock(ref, durationMs);
  }

  lockUnlessDone(ref: AttemptRef, durationMs: number): Promise<LeaseLock | "done" | undefined> {
    return this.opened().lockUnlessDone(ref, durationMs);
  }

  private opened(): RedisStepLeaseStore {
    if (!this.store) throw new Error("the Redis step leases are used before open()");
    return this.store;
  }

  private async connect(wait: WaitOptions): Promise<RedisStepLeaseStore> {
    const log = wait.log;
    const readiness = wait.readiness;
    this.readiness = readiness;
    // Auto-pipelining: the lease commands of the steps running at once go out in one write
    // per tick rather than one socket write (and system call) each.
    const redis = new Redis(this.config.redisUrl, {
      lazyConnect: true,
      enableAutoPipelining: true,
    });
    this.redis = redis;
    let lastError: Error | undefined;
    let failing = false;
    redis.on("error", (err: Error) => {
      lastError = err;
      // One line per outage, not one per reconnection try.
      if (!failing) log.warn({ err }, "Redis connection error; reconnecting");
      failing = true;
    });
    redis.on("ready", () => {
      if (failing) log.info("Redis connected again");
      failing = false;
      lastError = undefined;
      readiness?.clear(this.redisWait);
    });
    redis.on("close", () => {
      if (this.closed || wait.signal?.aborted || !readiness) return;
      const before = readiness.get(this.redisWait);
      readiness.wait(this.redisWait, {
        role: wait.role,
        dependency: "redis",
        action: "take step leases",
        since: before?.since ?? Date.now(),
        failures: (before?.failures ?? 0) + 1,
        error: lastError?.message ?? "connection closed",
      });
    });
    try {
      // The first try's outcome first; then ioredis's own reconnections.
      await redis.connect().catch(() => undefined);
      await untilAvailable(wait, "redis", "reach Redis", async () => {
        if (redis.status !== "ready") {
          throw lastError ?? new Error(`Redis is not connected (${redis.status})`);
        }
        await redis.ping();
      });
    } catch (err) {
      // Stopped while waiting: the client goes now, not with the backends.
      this.redis = undefined;
      redis.disconnect();
      throw err;
    }
    this.store = new RedisStepLeaseStore(redis, this.config, this.logger);
    return this.store;
  }
}
