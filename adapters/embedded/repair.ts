import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { join } from "node:path";
import { encodeFrame, identityFrame, type Frame } from "./frames";
import { lockDirectory } from "./lock";
import { checkMagic } from "./log";
import { scanLog, type LogDamage } from "./log-scan";
import {
  indexFile,
  LEGACY_LOG_FILE,
  listSegments,
  segmentFile,
  syncDirectory,
  writeAll,
} from "./segment-files";

/** What `repairLog` found in a log, and what it did. */
export interface LogRepair {
  /** The damaged segment file, or the active (last) one when there is no damage. */
  file: string;
  /** That file's size when it was read. */
  size: number;
  /** Good frames before any damage, over every segment read. */
  frames: number;
  /** Where the last good frame of `file` ends. */
  validEnd: number;
  /** Segment files read (a damaged one ends the check). */
  segments: number;
  /** The log's ID (its last identity), when it has one. */
  logId?: string;
  damage?: LogDamage;
  /** With `truncate` and damage: the file that now holds the bytes cut off. */
  keptAside?: string;
  /**
   * With `truncate` and damage: the ID the cut log now has. What was derived from the log
   * before (read models, done-markers) may be ahead of it, and a new ID tells the next start
   * to rebuild it.
   */
  newLogId?: string;
}

/**
 * Looks at the embedded log in `directory` (holding the directory's lock, so no Weft runs on it
 * meanwhile): reads every frame of every segment, oldest first, checking each, up to the first
 * damage. Only the last (active) segment can have a torn tail; damage in a sealed segment is
 * corruption. With `truncate`, cuts the damaged segment at the end of its last good frame, after
 * copying every byte from there on into a new file next to it (`<segment>.corrupt-<ms>`, or
 * `.tail-` for a torn last frame), synced before the cut; drops a cut sealed segment's index
 * (the next open rebuilds it from what is left; the records cut off leave gaps); then gives
 * the log a new ID (an identity frame at the end of the active segment). Never deletes those
 * bytes, never truncates unless asked.
 */
export async function repairLog(
  directory: string,
  options: { truncate?: boolean } = {},
): Promise<LogRepair> {
  const legacy = existsSync(join(directory, LEGACY_LOG_FILE));
  const ids = existsSync(directory) ? listSegments(directory) : [];
  if (!legacy && ids.length === 0)
    throw new Error(
      `there is no embedded log in ${directory} (no ${segmentFile(0)} or ${LEGACY_LOG_FILE} there)`,
    );
  const dir = realpathSync(directory);
  // A log of one file from an earlier Weft is checked in place; the next open makes it a segment.
  const files =
    ids.length > 0 ? ids.map((id) => join(dir, segmentFile(id))) : [join(dir, LEGACY_LOG_FILE)];
  const lock = await lockDirectory(dir);
  try {
    let frames = 0;
    let logId: string | undefined;
    for (const [i, file] of files.entries()) {
      const data = checkMagic(file, readFileSync(file));
      const scan = scanLog(data);
      frames += scan.frames.length;
      logId = logIdOf(scan.frames) ?? logId;
      const last = i === files.length - 1;
      if (!scan.damage && !last) continue;
      const damage: LogDamage | undefined =
        scan.damage?.kind === "torn" && !last
          ? { ...scan.damage, kind: "corrupt", framesAfter: 0 }
          : scan.damage;
      const report: LogRepair = {
        file,
        size: data.length,
        frames,
        validEnd: scan.validEnd,
        segments: i + 1,
        logId,
        damage,
      };
      if (!damage || !options.truncate) return report;
      const keptAside = `${file}.${damage.kind === "torn" ? "tail" : "corrupt"}-${Date.now()}`;
      writeDurably(keptAside, data.subarray(scan.validEnd));
      cut(file, scan.validEnd);
      if (!last && ids.length > 0) rmSync(join(dir, indexFile(ids[i]!)), { force: true });
      const identity = identityFrame();
      appendFrame(files[files.length - 1]!, encodeFrame(identity));
      return { ...report, keptAside, newLogId: identity[1] };
    }
    throw new Error("unreachable: the last segment always reports");
  } finally {
    await lock.release();
  }
}

function cut(file: string, at: number): void {
  const fd = openSync(file, "r+");
  try {
    ftruncateSync(fd, at);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function appendFrame(file: string, frame: Buffer): void {
  const fd = openSync(file, "r+");
  try {
    writeAll(fd, frame, fstatSync(fd).size);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file (never overwriting one) and syncs it and its directory entry. */
function writeDurably(file: string, bytes: Buffer): void {
  const fd = openSync(file, "wx");
  try {
    writeAll(fd, bytes, 0);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirectory(join(file, ".."));
}

function logIdOf(frames: readonly Frame[]): string | undefined {
  let id: string | undefined;
  for (const frame of frames) {
    if (frame[0] === 4) id = frame[1];
    else if (frame[0] === 5 && frame[4] !== null) id = frame[4];
  }
  return id;
}
