import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  realpathSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { encodeFrame, identityFrame, type Frame } from "./frames";
import { lockDirectory } from "./lock";
import { checkMagic, LOG_FILE } from "./log";
import { scanLog, type LogDamage } from "./log-scan";

/** What `repairLog` found in a log file, and what it did. */
export interface LogRepair {
  file: string;
  /** The file's size when it was read. */
  size: number;
  /** Good frames before any damage. */
  frames: number;
  /** Where the last good frame ends. */
  validEnd: number;
  /** The log's ID (its identity frame), when it has one. */
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
 * meanwhile) and, with `truncate`, cuts it at the end of its last good frame, after copying
 * every byte from there on into a new file next to it (`log.wal.corrupt-<ms>`, or `.tail-` for
 * a torn last frame), synced before the cut; then gives the log a new ID (an identity frame).
 * Never deletes those bytes, never truncates unless asked.
 */
export async function repairLog(
  directory: string,
  options: { truncate?: boolean } = {},
): Promise<LogRepair> {
  if (!existsSync(join(directory, LOG_FILE)))
    throw new Error(`there is no embedded log in ${directory} (no ${LOG_FILE} there)`);
  const dir = realpathSync(directory);
  const file = join(dir, LOG_FILE);
  const lock = await lockDirectory(dir);
  try {
    const data = checkMagic(file, readFileSync(file));
    const scan = scanLog(data);
    const report: LogRepair = {
      file,
      size: data.length,
      frames: scan.frames.length,
      validEnd: scan.validEnd,
      logId: logIdOf(scan.frames),
      damage: scan.damage,
    };
    if (!scan.damage || !options.truncate) return report;
    const keptAside = `${file}.${scan.damage.kind === "torn" ? "tail" : "corrupt"}-${Date.now()}`;
    writeDurably(keptAside, data.subarray(scan.validEnd));
    const identity = identityFrame();
    const frame = encodeFrame(identity);
    const fd = openSync(file, "r+");
    try {
      ftruncateSync(fd, scan.validEnd);
      writeAll(fd, frame, scan.validEnd);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { ...report, keptAside, newLogId: identity[1] };
  } finally {
    await lock.release();
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
  const dir = openSync(join(file, ".."), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function writeAll(fd: number, bytes: Buffer, at: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, at + done);
}

function logIdOf(frames: readonly Frame[]): string | undefined {
  let id: string | undefined;
  for (const frame of frames) if (frame[0] === 4) id = frame[1];
  return id;
}
