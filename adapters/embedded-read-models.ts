import { ConfigError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { ReadModelDb } from "../projections/read-model-db";
import { emptyReadModels } from "../projections/replay";
import { readProjectedLog, recordProjectedLog } from "../projections/tables/projected-log";
import { type EmbeddedLog } from "./embedded";

/** What `matchReadModelsToLog` did with the read models. */
export type ReadModelMatch =
  /** They were built from this log and are not ahead of it: served as they are. */
  | { action: "kept" }
  /** No log was recorded (new, or built before logs had IDs) and nothing contradicts this one. */
  | { action: "adopted" }
  /** Emptied, to be projected again from offset 0; `reasons` say why. */
  | { action: "rebuilt"; reasons: readonly string[] };

/** Shown at most, of the partitions found ahead of the log. */
const AHEAD_SHOWN = 3;

/**
 * The read models and the embedded log belong together: the database records which log it was
 * built from (the log's ID) and, as the projector's stored offsets, how far. Read models built
 * from another log (another ID, or a new log while they hold rows: `log.wal` was deleted) or
 * ahead of this one (a stored offset beyond the end of its partition: the log lost its end,
 * e.g. `weft repair --truncate`, or the database came from elsewhere) would serve runs the log
 * does not have, and the projector would wait forever at offsets the log never reaches. They
 * are emptied instead, in one transaction with the new log ID, and the projector rebuilds them
 * from offset 0, as `weft replay projections` does. Runs before the projector starts, on a
 * migrated database. Read models with no log recorded are taken for this log's when the
 * database is the directory's own; in a database from outside they are refused (INVALID_CONFIG)
 * rather than emptied.
 */
export async function matchReadModelsToLog(options: {
  db: ReadModelDb;
  log: EmbeddedLog;
  logger: Logger;
  /** The database is the embedded directory's own file (see EmbeddedBackendsOptions). */
  ownsDatabase: boolean;
}): Promise<ReadModelMatch> {
  const { db, log, logger } = options;
  const recorded = await readProjectedLog(db);
  const offsets = await db.db
    .selectFrom("weft_projector_offsets")
    .select(["topic", "partition", "next_offset"])
    .execute();
  const hasRuns = (await db.db.selectFrom("weft_runs").select("workflow_id").limit(1).execute())
    .length;
  const projected = hasRuns > 0 || offsets.some((o) => Number(o.next_offset) > 0);
  if (recorded === undefined && projected && !options.ownsDatabase) {
    throw new ConfigError(
      "the read-model database given to embedded mode (DATABASE_URL or the database option) holds read models " +
        "that were not recorded as built from an embedded log: they may be a server installation's, or from an older Weft. " +
        "Embedded mode empties only read models it can tell are its own. Leave DATABASE_URL unset to use read-models.db in " +
        `${log.directory}, point it at another database, or, if this one is yours to empty, run \`weft replay projections\` on it first.`,
    );
  }

  const reasons: string[] = [];
  if (recorded !== undefined && recorded !== log.id) {
    reasons.push(
      `they were built from log ${recorded}, and the log in ${log.directory} is log ${log.id}`,
    );
  }
  if (log.created && projected) {
    reasons.push(
      `its segment files (log-*.wal) were missing, so a new, empty log was created, and they hold what an earlier log recorded`,
    );
  }
  const ahead = offsets
    .map((o) => ({
      topic: o.topic,
      partition: Number(o.partition),
      projected: Number(o.next_offset),
      end: endOf(log, o.topic, Number(o.partition)),
    }))
    .filter((o) => o.projected > o.end);
  if (ahead.length > 0) {
    const shown = ahead
      .slice(0, AHEAD_SHOWN)
      .map(
        (o) =>
          `${o.topic} partition ${o.partition} projected up to offset ${o.projected}, the log ends at ${o.end}`,
      );
    if (ahead.length > AHEAD_SHOWN) shown.push(`${ahead.length - AHEAD_SHOWN} more partition(s)`);
    reasons.push(`they are ahead of the log (${shown.join("; ")})`);
  }

  if (reasons.length > 0) {
    const tables = await db.transaction(async (tx) => {
      const emptied = await emptyReadModels(tx);
      await recordProjectedLog(tx, log.id);
      return emptied;
    });
    logger.warn(
      { dir: log.directory, logId: log.id, recordedLogId: recorded, reasons, tables },
      `read models rebuilt from the embedded log, not served as they were: ${reasons.join("; ")}. ` +
        "They were emptied and the projector fills them again from the start of the log",
    );
    return { action: "rebuilt", reasons };
  }
  if (recorded === undefined) {
    await recordProjectedLog(db, log.id);
    if (projected) {
      logger.info(
        { dir: log.directory, logId: log.id },
        "read models recorded as built from this embedded log (they predate log IDs and are not ahead of it)",
      );
    }
    return { action: "adopted" };
  }
  return { action: "kept" };
}

/** The end of a partition of the log; 0 for a topic or partition it does not have. */
function endOf(log: EmbeddedLog, topic: string, partition: number): number {
  const partitions = log.partitionCount(topic);
  return partitions !== undefined && partition < partitions
    ? log.highWatermark(topic, partition)
    : 0;
}
