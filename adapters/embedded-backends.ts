import { createLogger, type Logger } from "../core/logger";
import { closeLiveEmitter } from "../projections/live-changes";
import { createInProcessLiveEmitter } from "./in-process/live-emitter";
import { migrate } from "../projections/migrate";
import { inProcessMigrationLock } from "./in-process/migration-lock";
import { type WithMigrationLock } from "../projections/migration-lock";
import type { OpenDatabase } from "./read-side-backends";
import { EmbeddedKafka, type SyncMode } from "./embedded";
import { embeddedDecisionLog } from "./embedded/decision-log";
import { InProcessStepLeaseStore } from "./in-process/step-lease-store";
import type { Backends } from "./backends";
import { doneMarkersFile } from "./embedded-done-markers";
import { matchReadModelsToLog } from "./embedded-read-models";

export interface EmbeddedBackendsOptions {
  /** Where the log lives; one process at a time may hold it. */
  directory: string;
  /** How the log reaches the disk; default "interval" (see adapters/embedded/README.md). */
  sync?: SyncMode;
  logger?: Logger;
  /** The read models; without one the projector and api roles cannot run. */
  openDatabase?: OpenDatabase;
  /**
   * True when the database is the directory's own (`read-models.db` in it). Read models found
   * without a log ID are then taken for this directory's (kept, or rebuilt when they do not
   * match the log); in a database given from outside they are refused, never emptied, since
   * they may be a server installation's. Default false.
   */
  ownsDatabase?: boolean;
}

/**
 * The in-process adapter set: the embedded log in `directory`, step leases in memory and
 * done-markers in memory and in `directory/done-markers.<log ID>`, the migration lock as a mutex (the log's directory lock already keeps other
 * processes out), one in-process live emitter shared by the projector and the API, no Redis.
 * With a read-model database, it is checked, migrated and matched to the log before anything
 * projects (see matchReadModelsToLog): read models of another log, or ahead of this one, are
 * rebuilt; a SQLite file that is damaged or read-only is refused (DATABASE_CORRUPT,
 * DATABASE_NOT_WRITABLE, naming the file).
 */
export async function embeddedBackends(
  options: EmbeddedBackendsOptions,
): Promise<Backends & { readonly transport: EmbeddedKafka; close(): Promise<void> }> {
  const log = await EmbeddedKafka.open({
    directory: options.directory,
    sync: options.sync,
    logger: options.logger,
  });
  const withMigrationLock = inProcessMigrationLock();
  let stepLeases: InProcessStepLeaseStore;
  try {
    if (options.openDatabase) {
      await matchDatabase(options, options.openDatabase, withMigrationLock, log);
    }
    stepLeases = await InProcessStepLeaseStore.open(
      doneMarkersFile(log.log.directory, log.log, options.logger),
      // Once the workers committed past a task it is not delivered again: its marker can go.
      (topic, partition) => log.log.committedFloor(topic, partition),
    );
  } catch (err) {
    await log.close();
    throw err;
  }
  const live = createInProcessLiveEmitter();
  return {
    transport: log,
    decisionLog: embeddedDecisionLog(log),
    stepLeases,
    readSide: {
      openDatabase: options.openDatabase,
      withMigrationLock,
      live,
      redis: false,
    },
    hasDatabase: options.openDatabase !== undefined,
    async close() {
      await closeLiveEmitter(live);
      await stepLeases.close();
      await log.close();
    },
  };
}

async function matchDatabase(
  options: EmbeddedBackendsOptions,
  openDatabase: OpenDatabase,
  withMigrationLock: WithMigrationLock,
  log: EmbeddedKafka,
): Promise<void> {
  const logger = options.logger ?? createLogger("info");
  // A SQLite file that is not a database is refused as it opens, one that refuses writes here:
  // before anything runs, so the process does not start with a projector that cannot project.
  const db = openDatabase({ max: 1, applicationName: "weft embedded start" });
  try {
    await db.assertWritable();
    await withMigrationLock((lock) => migrate(db, { logger, lock }));
    await matchReadModelsToLog({
      db,
      log: log.log,
      logger,
      ownsDatabase: options.ownsDatabase ?? false,
    });
  } finally {
    await db.close();
  }
}
