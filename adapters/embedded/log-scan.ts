import {
  HEADER_BYTES,
  looksLikeFrame,
  MAGIC,
  MAX_FRAME_BYTES,
  opensLikeFrame,
  readFrame,
} from "./frames";
import type { Frame, FrameFault } from "./frames";
import { readAll } from "./segment-files";

/**
 * What is wrong with a log file, if anything.
 * - `torn`: the last frame is cut short or bad and nothing valid follows it, within what one
 *   frame spans: what a process killed in the middle of its one write leaves (or a machine
 *   crash before the page cache reached the disk). Dropping it loses only that write.
 * - `corrupt`: a bad frame followed by more data (valid frames, or bytes beyond what the bad
 *   frame claims to span): damage in the middle. Dropping everything from there would lose
 *   acknowledged work without a word, so opening refuses (see LogCorruptError).
 */
export type LogDamage =
  | { kind: "torn"; offset: number; bytes: number; fault: FrameFault }
  | {
      kind: "corrupt";
      /** Where the first bad frame starts: the end of the last good one. */
      offset: number;
      /** Bytes from `offset` to the end of the file: what truncating there removes. */
      bytes: number;
      fault: FrameFault;
      /** The first valid frame found after the bad one, if any. */
      nextFrame?: number;
      /** Valid frames in a row from `nextFrame` on. */
      framesAfter: number;
    };

export interface LogScan {
  /** The valid frames before any damage, in order. */
  frames: Frame[];
  /** Where each of `frames` starts in the file. */
  positions: number[];
  /** Where the last good frame ends (MAGIC's length when there is none). */
  validEnd: number;
  /** The file's size. */
  size: number;
  damage?: LogDamage;
}

/** Where a scan of a file ended, and what follows its good frames. */
export type LogExtent = Omit<LogScan, "frames" | "positions">;

/** Reads a whole log file (MAGIC already checked): its good frames and what follows them. */
export function scanLog(data: Buffer): LogScan {
  const frames: Frame[] = [];
  const positions: number[] = [];
  let pos = MAGIC.length;
  while (pos < data.length) {
    const read = readFrame(data, pos);
    if (!read.ok) {
      return {
        frames,
        positions,
        validEnd: pos,
        size: data.length,
        damage: classify(data, pos, read.fault, read.end),
      };
    }
    frames.push(read.frame);
    positions.push(pos);
    pos = read.end;
  }
  return { frames, positions, validEnd: pos, size: data.length };
}

/** Bytes a file scan reads at a time; a larger frame is read whole. */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

/**
 * Reads the log file open at `fd`, of `size` bytes (MAGIC already checked), frame by frame
 * through a buffer of `chunkBytes`, handing each good frame to `visit` as it is read and
 * keeping none. Opening replays the active segment this way: read whole, with its frames
 * decoded all at once, it was up to 16 MiB of file and many times that of decoded records
 * held together, all garbage a moment later, which the allocator kept as resident memory.
 * The rest of the file is read only from a bad frame on, to tell a torn tail from corruption.
 */
export function scanLogFile(
  fd: number,
  size: number,
  visit: (frame: Frame, position: number) => void,
  chunkBytes = SCAN_CHUNK_BYTES,
): LogExtent {
  let buffer = Buffer.allocUnsafeSlow(Math.max(0, Math.min(chunkBytes, size)));
  // The file's bytes [start, end) are in buffer[0, end - start).
  let start = 0;
  let end = 0;
  const fill = (from: number, bytes: number) => {
    const want = Math.min(Math.max(bytes, chunkBytes), size - from);
    if (buffer.length < want) buffer = Buffer.allocUnsafeSlow(want);
    readAll(fd, buffer.subarray(0, want), from);
    start = from;
    end = from + want;
  };
  let pos = MAGIC.length;
  while (pos < size) {
    if (pos + HEADER_BYTES > end) fill(pos, HEADER_BYTES);
    if (pos + HEADER_BYTES <= end) {
      // The whole frame in the buffer, when its length is plausible and the file holds it.
      const frameEnd = pos + HEADER_BYTES + buffer.readUInt32LE(pos - start);
      if (frameEnd > end && frameEnd <= size && frameEnd - pos <= HEADER_BYTES + MAX_FRAME_BYTES)
        fill(pos, frameEnd - pos);
    }
    const read = readFrame(buffer.subarray(0, end - start), pos - start);
    if (!read.ok) {
      const rest = Buffer.allocUnsafeSlow(size - pos);
      readAll(fd, rest, pos);
      const cutEnd = read.end === undefined ? undefined : read.end + start - pos;
      const damage = classify(rest, 0, read.fault, cutEnd);
      return {
        validEnd: pos,
        size,
        damage: {
          ...damage,
          offset: pos,
          ...(damage.kind === "corrupt" && damage.nextFrame !== undefined
            ? { nextFrame: damage.nextFrame + pos }
            : {}),
        },
      };
    }
    visit(read.frame, pos);
    pos = read.end + start;
  }
  return { validEnd: pos, size };
}

/**
 * A bad frame at `offset` is a torn tail when no valid frame follows it, it spans the rest of
 * the file (its header is cut short, or its plausible length reaches to or past the end), and
 * what there is of its payload opens as a frame's does. Anything else (an impossible length,
 * bytes beyond the frame's own end, a valid frame after it, garbage) is corruption.
 */
function classify(data: Buffer, offset: number, fault: FrameFault, end?: number): LogDamage {
  const bytes = data.length - offset;
  const nextFrame = findFrameAfter(data, offset + 1);
  if (nextFrame === undefined) {
    const spansTheRest =
      fault === "has its header cut short" || (end !== undefined && end >= data.length);
    if (spansTheRest && opensLikeFrame(data, offset)) return { kind: "torn", offset, bytes, fault };
  }
  return {
    kind: "corrupt",
    offset,
    bytes,
    fault,
    nextFrame,
    framesAfter: nextFrame === undefined ? 0 : countFrames(data, nextFrame),
  };
}

/**
 * The first position from `from` on where a valid frame starts and is followed by the end of
 * the file or by what looks like another frame. The cheap checks come first, so the CRC is
 * computed only where a frame is very likely, not at every byte.
 */
function findFrameAfter(data: Buffer, from: number): number | undefined {
  for (let pos = from; pos + HEADER_BYTES < data.length; pos++) {
    if (!looksLikeFrame(data, pos)) continue;
    const end = pos + HEADER_BYTES + data.readUInt32LE(pos);
    if (end !== data.length && !headerFits(data, end)) continue;
    if (readFrame(data, pos).ok) return pos;
  }
  return undefined;
}

/** Whether a frame header at `pos` is plausible (its bytes may be cut short by the file end). */
function headerFits(data: Buffer, pos: number): boolean {
  if (pos + 4 > data.length) return true;
  return data.readUInt32LE(pos) <= MAX_FRAME_BYTES;
}

function countFrames(data: Buffer, from: number): number {
  let count = 0;
  for (let pos = from; ; count++) {
    const read = readFrame(data, pos);
    if (!read.ok) return count;
    pos = read.end;
  }
}
