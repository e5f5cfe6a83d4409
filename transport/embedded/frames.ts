import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";

/**
 * The write-ahead log's framing. The file starts with MAGIC; then frames, each
 * `u32 LE payload length | u32 LE CRC-32 of the payload | payload (MessagePack)`.
 * A frame is written with one write call, so a killed process leaves at most one torn frame,
 * at the end.
 */
export const MAGIC = Buffer.from("WEFTLOG1", "ascii");
const HEADER = 8;
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
  /** A topic was created. */
  | [kind: 1, topic: string, partitions: number]
  /** Records and committed offsets, applied together (a transaction, a send, a commit). */
  | [kind: 2, records: RecordEntry[], offsets: OffsetEntry[]]
  /** A consumer group's committed offsets were deleted. */
  | [kind: 3, group: string];

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeFrame(frame: Frame): Buffer {
  const payload = packr.pack(frame);
  if (payload.length > MAX_FRAME_BYTES)
    throw new RangeError(`a frame of ${payload.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

export interface Decoded {
  frames: Frame[];
  /** Where the last whole frame ends: anything after it is a torn or corrupt tail. */
  validEnd: number;
}

/** Decodes the frames of a whole file (after MAGIC), stopping at the first invalid one. */
export function decodeFrames(data: Buffer, start: number): Decoded {
  const frames: Frame[] = [];
  let pos = start;
  while (pos + HEADER <= data.length) {
    const length = data.readUInt32LE(pos);
    const end = pos + HEADER + length;
    if (length > MAX_FRAME_BYTES || end > data.length) break;
    const payload = data.subarray(pos + HEADER, end);
    if (crc32(payload) !== data.readUInt32LE(pos + 4)) break;
    let frame: Frame;
    try {
      frame = packr.unpack(payload) as Frame;
    } catch {
      break;
    }
    frames.push(frame);
    pos = end;
  }
  return { frames, validEnd: pos };
}
