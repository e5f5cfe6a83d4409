import { join } from "node:path";
import type { Logger } from "../core/logger";
import { closeLiveEmitter, createInProcessLiveEmitter } from "../projections/live-changes";
import { inProcessMigrationLock } from "../projections/migration-lock";
import type { OpenDatabase } from "../projections/read-side-backends";
import { EmbeddedKafka, type SyncMode } from "../transport/embedded";
import { InProcessStepLeaseStore } from "../workers/lease-store";
import type { Backends } from "./backends";

/** Next to the log: the workers' done-markers (see DoneMarkerJournal). */
const DONE_MARKERS_FILE = "done-markers";

export interface EmbeddedBackendsOptions {
  /** Where the log lives; one process at a time may hold it. */
  directory: string;
  /** How the log reaches the disk; default "interval" (see transport/embedded/README.md). */
  sync?: SyncMode;
  logger?: Logger;
  /** The read models; without one the projector and api roles cannot run. */
  openDatabase?: OpenDatabase;
}

/**
 * The in-process adapter set: the embedded log in `directory`, step leases in memory and
 * done-markers in memory and in `directory/done-markers`, the migration lock as a mutex (the log's directory lock already keeps other
 * processes out), one in-process live emitter shared by the projector and the API, no Redis.
 */
export async function embeddedBackends(
  options: EmbeddedBackendsOptions,
): Promise<Backends & { readonly transport: EmbeddedKafka; close(): Promise<void> }> {
  const log = await EmbeddedKafka.open({
    directory: options.directory,
    sync: options.sync,
    logger: options.logger,
  });
  let stepLeases: InProcessStepLeaseStore;
  try {
    stepLeases = await InProcessStepLeaseStore.open(join(options.directory, DONE_MARKERS_FILE));
  } catch (err) {
    await log.close();
    throw err;
  }
  const live = createInProcessLiveEmitter();
  return {
    transport: log,
    stepLeases,
    readSide: {
      openDatabase: options.openDatabase,
      withMigrationLock: inProcessMigrationLock(),
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
