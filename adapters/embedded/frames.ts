import { randomUUID } from "node:crypto";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import {
  decodeRecordsPayload,
  encodeRecordsPayload,
  isRecordsPayload,
  RECORDS_MARK,
} from "./records-frame";

/**
 * The write-ahead log's framing. The file starts with MAGIC; then frames, each
 * `u32 LE payload length | u32 LE CRC-32 of the payload | payload` (MessagePack, but for
 * records frames, which have a layout of their own: records-frame.ts).
 * A frame is written with one write call, so a killed process leaves at most one torn frame,
 * at the end.
 */
export const MAGIC = Buffer.from("WEFTLOG1", "ascii");
export const HEADER_BYTES = 8;
/** A frame larger than this is refused on write and taken for garbage on read. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** `[topic, partition, timestamp, key, value, headers]` */
export type RecordEntry = [
  string,
  number,
  number,
  Buffer | null,
  Buffer | null,
  [string, Buffer][],
];
/** `[group, topic, partition, next offset]` */
export type OffsetEntry = [string, string, number, number];

export type Frame =
  /**
   * A topic was created (compacted: a key's last record supersedes the ones before). Retention
   * (delete-policy topics): how long records every consumer group committed past are kept,
   * -1 for ever; absent, the log's default.
   */
  | [kind: 1, topic: string, partitions: number, compacted?: boolean, retentionMs?: number]
  /** Records and committed offsets, applied together (a transaction, a send, a commit). */
  | [kind: 2, records: RecordEntry[], offsets: OffsetEntry[]]
  /** A consumer group's committed offsets were deleted. */
  | [kind: 3, group: string]
  /**
   * The log's identity: a random ID, written as the first frame of a new log, appended once to
   * a log made before identities existed, and appended anew by `weft repair --truncate` (what
   * was derived from the log before the cut may be ahead of it now). The last one counts. Read
   * models record it to know which log they were built from. A Weft that predates it skips it.
   */
  | IdentityFrame
  /**
   * The first frame of every segment after the first: what the log held when the segment
   * began (topics, each partition's next offset, committed offsets, the ID), so that opening
   * needs the earlier segments only for their records (through their indexes), and a sealed
   * segment may be deleted with the topics, offsets and identity it recorded.
   */
  | CheckpointFrame;

/** `[name, partitions, compacted, retentionMs | null]` */
export type CheckpointTopic = [string, number, boolean, number | null];
export type CheckpointFrame = [
  kind: 5,
  topics: CheckpointTopic[],
  /** `[topic, next offset of each partition]` */
  ends: [string, number[]][],
  offsets: OffsetEntry[],
  logId: string | null,
  /**
   * Each compacted partition's live records when the segment began, so that opening takes
   * them from here instead of from every key of every sealed segment. Absent in checkpoints
   * written by a Weft before it (opening then reads the sealed segments' keys).
   */
  live?: CheckpointLive[],
  /** The sealed segments holding a compacted topic's tombstone (see retention.ts). */
  tombstoneSegments?: number[],
];

/**
 * One compacted partition's live records, in offset order, as little-endian arrays:
 * `[topic, partition, keys (latin1, one after another), key lengths (i32), offsets (f64),
 * segments (i32), frame positions (u32), places in their frames (i32)]`.
 */
export type CheckpointLive = [
  topic: string,
  partition: number,
  keys: Buffer,
  lengths: Buffer,
  offsets: Buffer,
  segments: Buffer,
  positions: Buffer,
  slots: Buffer,
];

export type IdentityFrame = [kind: 4, logId: string, createdAt: number];

/** A new identity for a log. */
export function identityFrame(): IdentityFrame {
  return [4, randomUUID(), Date.now()];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeFrame(frame: Frame): Buffer {
  // A records frame is written after room for the header: the frame is that buffer, uncopied.
  const records =
    frame[0] === 2 ? encodeRecordsPayload(frame[1], frame[2], HEADER_BYTES) : undefined;
  let out: Buffer;
  if (records) {
    out = records;
  } else {
    const packed = packr.pack(frame);
    out = Buffer.allocUnsafe(HEADER_BYTES + packed.length);
    packed.copy(out, HEADER_BYTES);
  }
  const payload = out.subarray(HEADER_BYTES);
  if (payload.length > MAX_FRAME_BYTES)
    throw new RangeError(`a frame of ${payload.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  return out;
}

/** Why the bytes at a position are not a whole, valid frame. */
export type FrameFault =
  | "has its header cut short"
  | "has an impossible length field"
  | "is cut short"
  | "fails its checksum"
  | "has a payload that does not decode";

/** One frame read at a position: the frame and where it ends, or why there is none. */
export type FrameRead =
  | { ok: true; frame: Frame; end: number }
  /** `end`: where the frame would end by its length field, when that field is plausible. */
  | { ok: false; fault: FrameFault; end?: number };

/** Reads the frame at `pos`, checking its length, CRC and payload. */
export function readFrame(data: Buffer, pos: number): FrameRead {
  if (pos + HEADER_BYTES > data.length) return { ok: false, fault: "has its header cut short" };
  const length = data.readUInt32LE(pos);
  if (length > MAX_FRAME_BYTES) return { ok: false, fault: "has an impossible length field" };
  const end = pos + HEADER_BYTES + length;
  if (end > data.length) return { ok: false, fault: "is cut short", end };
  const payload = data.subarray(pos + HEADER_BYTES, end);
  if (crc32(payload) !== data.readUInt32LE(pos + 4))
    return { ok: false, fault: "fails its checksum", end };
  let frame: unknown;
  try {
    frame = isRecordsPayload(payload) ? decodeRecordsPayload(payload) : packr.unpack(payload);
  } catch {
    return { ok: false, fault: "has a payload that does not decode", end };
  }
  if (!Array.isArray(frame) || typeof frame[0] !== "number")
    return { ok: false, fault: "has a payload that does not decode", end };
  return { ok: true, frame: frame as Frame, end };
}

/**
 * Whether a whole frame could start at `pos`, by cheap checks only (no CRC): a plausible length
 * that fits in the file and a payload that opens as a frame does. Used to look for frames after
 * a damaged one without computing a CRC at every byte.
 */
export function looksLikeFrame(data: Buffer, pos: number): boolean {
  if (pos + HEADER_BYTES + 2 > data.length) return false;
  const length = data.readUInt32LE(pos);
  if (length < 2 || pos + HEADER_BYTES + length > data.length) return false;
  return opensLikeFrame(data, pos);
}

/**
 * Whether the payload of a frame at `pos` opens as every frame's does (a MessagePack array of
 * two to five items whose first is a known kind, or a records frame's mark and kind), as far
 * as the file holds it: a write cut short leaves a true prefix of a frame, garbage seldom does.
 */
export function opensLikeFrame(data: Buffer, pos: number): boolean {
  const array = data[pos + HEADER_BYTES];
  const kind = data[pos + HEADER_BYTES + 1];
  if (array === RECORDS_MARK) return kind === undefined || kind === 2;
  return (
    (array === undefined || (array >= 0x92 && array <= 0x95)) &&
    (kind === undefined || (kind >= 1 && kind <= 5))
  );
}
