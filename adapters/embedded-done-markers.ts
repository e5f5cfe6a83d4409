import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../core/logger";
import type { EmbeddedLog } from "./embedded";

/** The workers' done-markers, next to the log: `done-markers.<log ID>` (see DoneMarkerJournal). */
const PREFIX = "done-markers";
const MARKERS = /^done-markers(\.[0-9a-f-]{36})?$/;

/**
 * The done-markers file that belongs to the log as it was opened. A done-marker says "this
 * attempt's result is in the log": a worker that finds one does not run the attempt again. So
 * markers must not outlive what they speak of:
 * - they are kept per log ID, so a log that is new, replaced, or cut by `weft repair --truncate`
 *   (which gives it a new ID) starts with none, and the files of other IDs are removed;
 * - they are dropped when opening dropped a torn last frame: after a machine crash that frame
 *   may have held a result whose marker survived.
 * Without a marker an attempt whose result was lost runs again (at least once) instead of
 * leaving its run waiting forever. A log that predates IDs keeps its `done-markers` file.
 */
export function doneMarkersFile(directory: string, log: EmbeddedLog, logger?: Logger): string {
  const name = `${PREFIX}.${log.id}`;
  const file = join(directory, name);
  const legacy = join(directory, PREFIX);
  if (log.idAdded && existsSync(legacy) && !existsSync(file)) renameSync(legacy, file);
  if (log.droppedTail && existsSync(file)) {
    rmSync(file);
    logger?.info(
      { file },
      "done-markers dropped with the log's torn last frame: an attempt whose result was in it runs again",
    );
  }
  for (const other of readdirSync(directory)) {
    if (other === name || !MARKERS.test(other)) continue;
    rmSync(join(directory, other), { force: true });
    logger?.info(
      { file: join(directory, other), logId: log.id },
      "done-markers of another log removed (the log is new, was replaced or was cut by a repair)",
    );
  }
  return file;
}
