import { hostname } from "node:os";
import type { Registry } from "prom-client";
import type { KafkaPort } from "../transport/port";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import {
  closeLiveEmitter,
  PROJECTOR_REPORT_INTERVAL_MS,
  publishCommit,
  publishProjectorReport,
  type LiveEmitter,
} from "./live-changes";
import { migrate } from "./migrate";
import { Projector, type ProjectorOptions } from "./projector";
import { healthJson, projectorCheck } from "./projector-health";
import type { ReadSideParts } from "../adapters/read-side-backends";

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
 * error (a schema newer than this Weft, for one), a SQLite file that is damaged or read-only
 * (DATABASE_CORRUPT, DATABASE_NOT_WRITABLE, naming the file), or with RoleStoppedError once
 * `signal` aborts.
 *
 * Once it runs, `readiness` has its "projector" check (not ready while a partition is stalled,
 * with the recent dead letters either way), its metrics are in `metrics`, and every 2 s it
 * publishes the same health next to its changes, for the API's `projectors` query.
 */
export async function startProjectorRole(options: {
  config: WeftConfig;
  kafka: KafkaPort;
  logger: Logger;
  onCommitted?: ProjectorOptions["onCommitted"];
  /** The read side's adapters, from the backends. */
  readSide: ReadSideParts;
  readiness?: Readiness;
  /** The process's registry: the projector's metrics go there. */
  metrics?: Registry;
  signal?: AbortSignal;
}): Promise<ProjectorRole> {
  const { config, kafka, logger } = options;
  const parts = options.readSide;
  const db = parts.openDatabase({
    max: 2 * config.commandPartitions + 3,
    applicationName: `weft projector ${config.clientId}`,
  });
  const live = parts.live();
  const closeLive = () => (live.owned ? closeLiveEmitter(live.emitter) : Promise.resolve());
  let projector: Projector | undefined;
  let stopReports = (): void => undefined;
  try {
    const wait = {
      role: "projector",
      log: logger.child({ role: "projector" }),
      readiness: options.readiness,
      signal: options.signal,
    };
    // The lock's errors name Redis; anything else here is PostgreSQL's. Under the lock, no
    // other role of the process writes: the place to check that the database takes writes.
    const { version, applied } = await untilAvailable(
      wait,
      "postgres",
      "migrate the read models",
      () =>
        parts.withMigrationLock((lock) =>
          lock.hold(async () => {
            const migrated = await migrate(db, { logger });
            await db.assertWritable();
            return migrated;
          }, MIGRATION_LOCK_TIMEOUT_MS),
        ),
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
      metricsRegistry: options.metrics,
      signal: options.signal,
    });
    await projector.start();
    const running = projector;
    const removeCheck = options.readiness?.check("projector", () =>
      projectorCheck(running.health.snapshot()),
    );
    const stopPublishing = reportHealth(live.emitter, config, logger, running);
    stopReports = () => {
      removeCheck?.();
      stopPublishing();
    };
  } catch (err) {
    stopReports();
    await projector?.stop().catch(() => undefined);
    await closeLive();
    await db.close();
    throw err;
  }
  const started = projector;
  return {
    projector: started,
    async stop() {
      stopReports();
      await started.stop();
      await closeLive();
      await db.close();
    },
  };
}

/** As long as `migrate` waits for the lock when it takes it itself. */
const MIGRATION_LOCK_TIMEOUT_MS = 60_000;

/**
 * Publishes the projector's health every PROJECTOR_REPORT_INTERVAL_MS (and once at once), and
 * a last one saying it stopped; returns what stops it.
 */
function reportHealth(
  emitter: LiveEmitter,
  config: WeftConfig,
  logger: Logger,
  projector: Projector,
): () => void {
  const identity = { id: config.clientId, host: hostname(), pid: process.pid };
  const publish = (stopped: boolean) => {
    const snapshot = projector.health.snapshot();
    publishProjectorReport(emitter, config, logger, {
      ...identity,
      at: new Date().toISOString(),
      ready: snapshot.ready,
      stopped,
      ...healthJson(snapshot),
    });
  };
  publish(false);
  const timer = setInterval(() => publish(false), PROJECTOR_REPORT_INTERVAL_MS);
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    publish(true);
  };
}
