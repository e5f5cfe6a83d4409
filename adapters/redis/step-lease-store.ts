import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import type { AttemptRef } from "../../workers/attempt";
import { DONE_MARKER_TTL_MS, type LeaseLock, type StepLeaseStore } from "../../workers/lease-store";
import { workerKeys } from "./keys";
import {
  createRedlock,
  lockedByOther,
  redlockLock,
  ResourceLockedError,
  type Lock,
  type Redlock,
} from "./redlock";

const DONE = -1;
const LOCKED = 1;
/** KEYS: the done-marker, the lease. ARGV: the lock's value, its duration in ms. */
const LOCK_UNLESS_DONE = `
if redis.call("exists", KEYS[1]) == 1 then return ${DONE} end
if redis.call("set", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then return ${LOCKED} end
return 0
`;
const LOCK_UNLESS_DONE_SHA = sha1(LOCK_UNLESS_DONE);
/**
 * KEYS: the done-marker, the lease. ARGV: the marker's value, its TTL in ms, the lock's value.
 * The lease is removed only while it is still this lock's, as redlock's release removes it.
 */
const RELEASE_DONE = `
redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2])
if redis.call("get", KEYS[2]) == ARGV[3] then redis.call("del", KEYS[2]) end
return 1
`;
const RELEASE_DONE_SHA = sha1(RELEASE_DONE);

function sha1(script: string): string {
  return createHash("sha1").update(script).digest("hex");
}

/**
 * A lease's value names its holder, so that only the holder extends or releases it: random
 * for the process, then counted, which is as unique as 16 random bytes a lease and costs no
 * call into the system's random source on every attempt.
 */
const HOLDER = randomBytes(12).toString("hex");
let leases = 0;
const leaseValue = (): string => `${HOLDER}-${(leases++).toString(36)}`;

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
      doneMarker(workerId),
      "PX",
      DONE_MARKER_TTL_MS,
    );
  }

  /**
   * One script, so one round trip: the done-marker checked, then the lease taken as redlock
   * takes it (SET NX PX with a random value), so that redlock extends and releases it.
   * Throws on Redis errors.
   */
  async lockUnlessDone(
    ref: AttemptRef,
    durationMs: number,
  ): Promise<LeaseLock | "done" | undefined> {
    const resource = workerKeys.lease(this.config, ref);
    const value = leaseValue();
    const args = [workerKeys.done(this.config, ref), resource, value, String(durationMs)];
    const taken = (await this.script(LOCK_UNLESS_DONE, LOCK_UNLESS_DONE_SHA, args)) as number;
    if (taken === DONE) return "done";
    if (taken !== LOCKED) return undefined;
    return this.leaseLock(ref, redlockLock(this.redlock, resource, value, Date.now() + durationMs));
  }

  /**
   * By its hash (the script's text is not sent again on every call); Redis forgets scripts on
   * a restart or SCRIPT FLUSH, and then it goes by its text once more.
   */
  private async script(text: string, sha: string, args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(sha, 2, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
      return await this.redis.eval(text, 2, ...args);
    }
  }

  /** Redlock's lock, which also sets the attempt's done-marker as it goes back. */
  private leaseLock(ref: AttemptRef, lock: Lock): LeaseLock {
    return {
      extend: async (durationMs) => this.leaseLock(ref, await lock.extend(durationMs)),
      release: () => lock.release(),
      releaseDone: async (workerId) => {
        const args = [
          workerKeys.done(this.config, ref),
          workerKeys.lease(this.config, ref),
          doneMarker(workerId),
          String(DONE_MARKER_TTL_MS),
          lock.value,
        ];
        await this.script(RELEASE_DONE, RELEASE_DONE_SHA, args);
      },
    };
  }

  /** Throws on Redis errors. */
  async tryLock(ref: AttemptRef, durationMs: number): Promise<LeaseLock | undefined> {
    try {
      const lock = await this.redlock.acquire([workerKeys.lease(this.config, ref)], durationMs);
      return this.leaseLock(ref, lock);
    } catch (err) {
      if (await lockedByOther(err)) return undefined;
      throw err;
    }
  }
}

/** A done-marker's value: who reported the attempt, and when. */
function doneMarker(workerId: string): string {
  return JSON.stringify({ workerId, at: Date.now() });
}
