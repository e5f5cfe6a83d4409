import { Redis } from "ioredis";
import type { WeftConfig } from "../../core/config";
import { WaitTimeoutError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import type { MigrationLock, WithMigrationLock } from "../../projections/migration-lock";
import { createRedlock, lockedByOther, redlockFailure, type Lock, type Redlock } from "./redlock";

/** The Redis migration lock, through a client of its own for the while. */
export function redisMigrationLock(
  config: Pick<WeftConfig, "topicPrefix" | "redisUrl">,
  logger?: Logger,
): WithMigrationLock {
  return (work) =>
    withMigrationRedis(config.redisUrl, logger, (redis) =>
      work(new RedisMigrationLock(redis, config, logger)),
    );
}

/** The Redis key of the migration lock of a Weft installation. */
export const migrationLockKey = (config: Pick<WeftConfig, "topicPrefix">): string =>
  `${config.topicPrefix}:migrations`;

/** The lease of the lock, extended every third of it while migrating. */
const LEASE_MS = 10_000;
const RETRY_DELAY_MS = 200;

/**
 * The redlock lock `<prefix>:migrations`, taken by `weft migrate`, the projector role and the
 * api role before they migrate, so that processes starting together queue here instead of
 * all opening PostgreSQL connections to fight over the schema. It is extended while migrating.
 *
 * It is not what keeps migrations correct: a Redis lease can lapse (a Redis failover, a
 * process paused past its lease), so migrate() always takes the PostgreSQL advisory lock
 * inside it, and that one is held exactly as long as the migrating connection.
 */
export class RedisMigrationLock implements MigrationLock {
  private readonly redlock: Redlock;
  private readonly key: string;
  private readonly log: Logger | undefined;

  constructor(redis: Redis, config: Pick<WeftConfig, "topicPrefix">, logger?: Logger) {
    this.key = migrationLockKey(config);
    this.log = logger?.child({ component: "migrate", lock: this.key });
    this.redlock = createRedlock([redis], { retryCount: 0 });
    // Failed votes are reported by acquire itself; a held lock is the normal case.
    this.redlock.on("error", () => undefined);
  }

  async hold<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
    let lock = await this.acquire(timeoutMs);
    let lost = false;
    let extending: Promise<void> | undefined;
    const timer = setInterval(
      () => {
        extending ??= lock
          .extend(LEASE_MS)
          .then(
            (extended) => {
              lock = extended;
            },
            (err: unknown) => {
              if (!lost) {
                lost = true;
                this.log?.warn(
                  { err },
                  "could not extend the Redis migration lock; the PostgreSQL advisory lock still guards the schema",
                );
              }
            },
          )
          .finally(() => {
            extending = undefined;
          });
      },
      Math.floor(LEASE_MS / 3),
    );
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await extending;
      // It expires on its own if this fails.
      await lock.release().catch((err: unknown) => {
        this.log?.debug({ err }, "could not release the Redis migration lock");
      });
    }
  }

  private async acquire(timeoutMs: number): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    let waitingLogged = false;
    for (;;) {
      try {
        return await this.redlock.acquire([this.key], LEASE_MS);
      } catch (err) {
        if (!(await lockedByOther(err))) {
          throw new Error(
            `could not take the migration lock ${this.key} in Redis (REDIS_URL): ${await redlockFailure(err)}`,
            { cause: err },
          );
        }
      }
      if (Date.now() + RETRY_DELAY_MS > deadline) {
        throw new WaitTimeoutError(
          `the Redis migration lock ${this.key} (another process is migrating)`,
          timeoutMs,
        );
      }
      if (!waitingLogged) {
        this.log?.info("another process is migrating; waiting for the migration lock");
        waitingLogged = true;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}

/**
 * A Redis client for the migration lock of a process that has none of its own (`weft
 * migrate`, the projector role): connected before use, closed after.
 */
export async function withMigrationRedis<T>(
  url: string,
  logger: Logger | undefined,
  work: (redis: Redis) => Promise<T>,
): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  redis.on("error", (err: unknown) =>
    logger?.debug({ err }, "Redis connection error (migration lock)"),
  );
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `could not reach Redis (REDIS_URL) for the migration lock: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    return await work(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
