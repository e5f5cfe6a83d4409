import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** The one file of a log written by a Weft before segments: opened as segment 0 (renamed). */
export const LEGACY_LOG_FILE = "log.wal";

const SEGMENT = /^log-(\d{20})\.wal$/;

/** A segment's file: its number, zero-padded so that names sort as numbers do. */
export function segmentFile(id: number): string {
  return `log-${String(id).padStart(20, "0")}.wal`;
}

/** The index written beside a sealed segment (see segment-index.ts). */
export function indexFile(id: number): string {
  return `log-${String(id).padStart(20, "0")}.idx`;
}

/** The file a new log starts with. */
export const FIRST_SEGMENT = segmentFile(0);

/** The numbers of the segments in `directory`, in order. */
export function listSegments(directory: string): number[] {
  const ids: number[] = [];
  for (const name of readdirSync(directory)) {
    const match = SEGMENT.exec(name);
    if (match) ids.push(Number(match[1]));
  }
  return ids.sort((a, b) => a - b);
}

/** Files a roll was writing when the process died (a segment or index not yet renamed). */
export function leftoverTemporaryFiles(directory: string): string[] {
  return readdirSync(directory).filter((name) => /^log-\d{20}\.(wal|idx)\.tmp$/.test(name));
}

export function writeAll(fd: number, bytes: Buffer, at: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, at + done);
}

/** Fills `into` with the file's bytes from `at` on; the file must hold them. */
export function readAll(fd: number, into: Buffer, at: number): void {
  let done = 0;
  while (done < into.length) {
    const read = readSync(fd, into, done, into.length - done, at + done);
    if (read === 0) throw new Error(`the log file ended at ${at + done} of ${at + into.length}`);
    done += read;
  }
}

/**
 * Writes `bytes` to `file` whole or not at all: into `file.tmp`, then renamed. With `sync`, the
 * data and the directory entry are on disk when it returns.
 */
export function writeFileAtomically(file: string, bytes: Buffer, sync: boolean): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeAll(fd, bytes, 0);
    if (sync) fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  if (sync) syncDirectory(join(file, ".."));
}

export function syncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
