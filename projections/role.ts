import type { KafkaPort } from "../transport/port";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import { closeLiveEmitter, publishCommit } from "./live-changes";
import { migrate } from "./migrate";
import { Projector, type ProjectorOptions } from "./projector";
import { readSideParts, type ReadSideBackends } from "./read-side-backends";

export interface ProjectorRole {
  readonly projector: Projector;
  stop(): Promise<void>;
}

/**
 * The projector role of a Weft process: its own read-model database, the migrations applied (explicitly, here,
 * under the Redis migration lock and the advisory lock, so concurrent starts do not race), then
 * the projector. After each commit it publishes what changed to Redis, where every API instance
 * picks it up for its subscriptions. `backends` swaps those parts (embedded mode: an in-process
 * lock and emitter).
 *
 * While PostgreSQL, Redis (for the migration lock) or Kafka is unreachable it waits, retrying
 * with backoff, and `readiness` shows what it waits for; it rejects only on a configuration
 * error (a schema newer than this Weft, for one), or with RoleStoppedError once `signal` aborts.
 */
export async function startProjectorRole(options: {
  config: WeftConfig;
  kafka: KafkaPort;
  logger: Logger;
  onCommitted?: ProjectorOptions["onCommitted"];
  backends?: ReadSideBackends;
  readiness?: Readiness;
  signal?: AbortSignal;
}): Promise<ProjectorRole> {
  const { config, kafka, logger } = options;
  const parts = readSideParts(config, logger, options.backends);
  const db = parts.openDatabase({
    max: 2 * config.commandPartitions + 3,
    applicationName: `weft projector ${config.clientId}`,
  });
  const live = parts.live();
  const closeLive = () => (live.owned ? closeLiveEmitter(live.emitter) : Promise.resolve());
  let projector: Projector | undefined;
  try {
    const wait = {
      role: "projector",
      log: logger.child({ role: "projector" }),
      readiness: options.readiness,
      signal: options.signal,
    };
    // The lock's errors name Redis; anything else here is PostgreSQL's.
    const { version, applied } = await untilAvailable(
      wait,
      "postgres",
      "migrate the read models",
      () => parts.withMigrationLock((lock) => migrate(db, { logger, lock })),
    );
    logger.info(
      { schemaVersion: version, applied: applied.map((m) => m.file) },
      applied.length > 0 ? "read-model schema migrated" : "read-model schema is current",
    );
    projector = new Projector({
      config,
      kafka,
      db,
      logger,
      onCommitted: async (changes) => {
        publishCommit(live.emitter, config, logger, changes);
        await options.onCommitted?.(changes);
      },
      readiness: options.readiness,
      signal: options.signal,
    });
    await projector.start();
  } catch (err) {
    await projector?.stop().catch(() => undefined);
    await closeLive();
    await db.close();
    throw err;
  }
  const started = projector;
  return {
    projector: started,
    async stop() {
      await started.stop();
      await closeLive();
      await db.close();
    },
  };
}
