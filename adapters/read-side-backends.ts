import { Redis } from "ioredis";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { PoolOptions } from "../projections/database";
import type * as RedisLiveEmitter from "./redis/live-emitter";
import { type LiveEmitter } from "../projections/live-changes";
import { redisMigrationLock } from "./redis/migration-lock";
import { type WithMigrationLock } from "../projections/migration-lock";
import type * as ReadModels from "../projections/read-model-db";
import type { ReadModelDb } from "../projections/read-model-db";

/** Opens the read-model database (PostgreSQL or SQLite); the caller closes what it opened. */
export type OpenDatabase = (options: PoolOptions) => ReadModelDb;

/**
 * What the read side (projector and API roles) runs on besides the transport. A part left out
 * is the server default: the database at `DATABASE_URL` (PostgreSQL, or a `sqlite:` file), the Redis migration lock, a Redis live
 * emitter of the role's own, and Redis in /readyz.
 */
export interface ReadSideBackends {
  /** The read models. */
  readonly openDatabase?: OpenDatabase;
  readonly withMigrationLock?: WithMigrationLock;
  /** Shared, owned by the caller (the role does not close it). */
  readonly live?: LiveEmitter;
  /** False when the installation has no Redis (embedded mode): /readyz does not check one. */
  readonly redis?: boolean;
}

/** The read side's parts as the projector and API roles take them: every part chosen. */
export interface ReadSideParts {
  openDatabase: OpenDatabase;
  withMigrationLock: WithMigrationLock;
  /** The live emitter; `owned`: the role closes it (one of its own, over Redis). */
  live: () => { emitter: LiveEmitter; owned: boolean };
  /**
   * A Redis client for /readyz (lazily connected, no offline queue: a PING fails at once
   * while Redis is unreachable; ioredis reconnects on its own), or null when the installation
   * has none (embedded mode). The caller quits it.
   */
  readinessRedis: () => Redis | null;
}

/** The read side's parts: those given, and the server defaults for the rest. */
export function readSideParts(
  config: WeftConfig,
  logger: Logger,
  backends: ReadSideBackends = {},
): ReadSideParts {
  const shared = backends.live;
  return {
    openDatabase:
      backends.openDatabase ??
      ((options) => loadReadModels().openReadModelDb(config, logger, options)),
    withMigrationLock: backends.withMigrationLock ?? redisMigrationLock(config, logger),
    live: () =>
      shared
        ? { emitter: shared, owned: false }
        : { emitter: loadLiveEmitter().createLiveEmitter(config, logger), owned: true },
    readinessRedis: () => {
      if (backends.redis === false) return null;
      const redis = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false });
      redis.on("error", (err: unknown) => logger.debug({ err }, "Redis connection error (api)"));
      return redis;
    },
  };
}

/*
 * The read side's code (Kysely, the PostgreSQL and SQLite drivers, the Redis emitter) loads when
 * a projector or an API opens it: a decider's or worker's process never does.
 */

function loadReadModels(): typeof ReadModels {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../projections/read-model-db") as typeof ReadModels;
}

function loadLiveEmitter(): typeof RedisLiveEmitter {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("./redis/live-emitter") as typeof RedisLiveEmitter;
}
