import type { Kafka } from "kafkajs";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { createPool } from "./database";
import { closeLiveEmitter, createLiveEmitter, publishCommit } from "./live-changes";
import { migrate } from "./migrate";
import { RedisMigrationLock, withMigrationRedis } from "./migration-lock";
import { Projector, type ProjectorOptions } from "./projector";

export interface ProjectorRole {
  readonly projector: Projector;
  stop(): Promise<void>;
}

/**
 * The projector role of a Weft process: its own pool, the migrations applied (explicitly, here,
 * under the Redis migration lock and the advisory lock, so concurrent starts do not race), then
 * the projector. After each commit it publishes what changed to Redis, where every API instance
 * picks it up for its subscriptions.
 */
export async function startProjectorRole(options: {
  config: WeftConfig;
  kafka: Kafka;
  logger: Logger;
  onCommitted?: ProjectorOptions["onCommitted"];
}): Promise<ProjectorRole> {
  const { config, kafka, logger } = options;
  const pool = createPool(config, logger, {
    max: 2 * config.commandPartitions + 3,
    applicationName: `weft projector ${config.clientId}`,
  });
  const live = createLiveEmitter(config, logger);
  let projector: Projector | undefined;
  try {
    const { version, applied } = await withMigrationRedis(config.redisUrl, logger, (redis) =>
      migrate(pool, { logger, lock: new RedisMigrationLock(redis, config, logger) }),
    );
    logger.info(
      { schemaVersion: version, applied: applied.map((m) => m.file) },
      applied.length > 0 ? "read-model schema migrated" : "read-model schema is current",
    );
    projector = new Projector({
      config,
      kafka,
      pool,
      logger,
      onCommitted: async (changes) => {
        publishCommit(live, config, logger, changes);
        await options.onCommitted?.(changes);
      },
    });
    await projector.start();
  } catch (err) {
    await projector?.stop().catch(() => undefined);
    await closeLiveEmitter(live);
    await pool.end();
    throw err;
  }
  const started = projector;
  return {
    projector: started,
    async stop() {
      await started.stop();
      await closeLiveEmitter(live);
      await pool.end();
    },
  };
}
