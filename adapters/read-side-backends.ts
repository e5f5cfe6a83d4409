import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { PoolOptions } from "../projections/database";
import { createLiveEmitter } from "./redis/live-emitter";
import { type LiveEmitter } from "../projections/live-changes";
import { redisMigrationLock } from "./redis/migration-lock";
import { type WithMigrationLock } from "../projections/migration-lock";
import { openReadModelDb, type ReadModelDb } from "../projections/read-model-db";

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

/** The read side's parts, defaults filled in. `ownsLive`: the role closes the emitter. */
export function readSideParts(
  config: WeftConfig,
  logger: Logger,
  backends: ReadSideBackends = {},
): {
  openDatabase: OpenDatabase;
  withMigrationLock: WithMigrationLock;
  live: () => { emitter: LiveEmitter; owned: boolean };
  redis: boolean;
} {
  const shared = backends.live;
  return {
    openDatabase: backends.openDatabase ?? ((options) => openReadModelDb(config, logger, options)),
    withMigrationLock: backends.withMigrationLock ?? redisMigrationLock(config, logger),
    live: () =>
      shared
        ? { emitter: shared, owned: false }
        : { emitter: createLiveEmitter(config, logger), owned: true },
    redis: backends.redis ?? true,
  };
}
