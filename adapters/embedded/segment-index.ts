import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";

/**
 * The index of a sealed segment, written beside it (`log-<n>.idx`) when the log rolls to the
 * next one: where each of its records is (per partition: the first offset, then for each
 * offset the frame's byte position and the record's place in the frame), and the keys of its
 * compacted topics' records (opening rebuilds which record of a key is the last from them). So
 * opening reads indexes, a few bytes a record, and scans only the active segment.
 *
 * File: "WEFTIDX1" | u32 LE payload length | u32 LE CRC-32 | payload (MessagePack). An index
 * that is missing, fails its CRC or names another size for its segment is rebuilt by scanning
 * the segment (see log.ts).
 */
export const INDEX_MAGIC = Buffer.from("WEFTIDX1", "ascii");
const VERSION = 1;
/** A position meaning the offset had no record when the segment was sealed (compacted). */
export const NO_POSITION = 0xffffffff;

/** The records a compacted partition's block holds keys of, in offset order. */
export interface IndexKeys {
  offsets: Float64Array;
  /** Byte length of each key in `bytes`. */
  lengths: Int32Array;
  /** As `readIndex` gives them: a view of the buffer index reads share, until the next read. */
  bytes: Buffer;
  /** 1: a tombstone (null value). */
  tombstones: Uint8Array;
}

export interface IndexBlock {
  topic: string;
  partition: number;
  /** The offset of the block's first record: the partition's records here are consecutive. */
  first: number;
  positions: Uint32Array;
  slots: Int32Array;
  keys?: IndexKeys;
  /**
   * Given instead of `positions` and `slots` (empty then) when the reader asked for the block's
   * extent only: its records' first and last offsets and how many there are (none: count 0).
   */
  extent?: BlockExtent;
}

/** What `readIndex` tells of a block before it decodes its arrays. */
export interface BlockHeader {
  topic: string;
  partition: number;
  /** Its last offset. */
  last: number;
  /** When its segment was sealed. */
  sealedAt: number;
}

export interface BlockExtent {
  first: number;
  last: number;
  count: number;
}

export interface SegmentIndex {
  segment: number;
  /** The segment file's size when sealed: a sealed segment never changes. */
  bytes: number;
  sealedAt: number;
  blocks: IndexBlock[];
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** A typed array's bytes, uncopied. */
export const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function encodeIndex(index: SegmentIndex): Buffer {
  const payload = packr.pack([
    VERSION,
    index.segment,
    index.bytes,
    index.sealedAt,
    index.blocks.map((b) => [
      b.topic,
      b.partition,
      b.first,
      bytesOf(b.positions),
      bytesOf(b.slots),
      b.keys
        ? [
            bytesOf(b.keys.offsets),
            bytesOf(b.keys.lengths),
            b.keys.bytes,
            bytesOf(b.keys.tombstones),
          ]
        : null,
    ]),
  ]);
  const header = Buffer.allocUnsafe(INDEX_MAGIC.length + 8);
  INDEX_MAGIC.copy(header, 0);
  header.writeUInt32LE(payload.length, INDEX_MAGIC.length);
  header.writeUInt32LE(crc32(payload), INDEX_MAGIC.length + 4);
  return Buffer.concat([header, payload]);
}

/** Copies bytes (possibly unaligned) into a fresh, aligned typed array. */
export function copyInto<T>(buf: Buffer, make: (b: ArrayBuffer) => T): T {
  return make(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
}

type EncodedBlock = [
  string,
  number,
  number,
  Buffer,
  Buffer,
  [Buffer, Buffer, Buffer, Buffer] | null,
];

/**
 * The buffer every index is read into. Opening reads an index of each sealed segment (about
 * 1 MB each, a hundred at 200,000 runs): a fresh buffer for each left the allocator holding
 * tens of megabytes it never gave back (measured: 35 MB of RSS after opening at 200,000 runs).
 */
let readBuffer = Buffer.alloc(0);

/** The file's bytes, in `readBuffer`: valid until the next call. Undefined when it is missing. */
function readShared(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (readBuffer.length < size)
      readBuffer = Buffer.allocUnsafeSlow(Math.max(size, readBuffer.length * 2));
    let done = 0;
    while (done < size) {
      const read = readSync(fd, readBuffer, done, size - done, done);
      if (read === 0) break;
      done += read;
    }
    return readBuffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/**
 * The index in `file`, or undefined when it is missing or not whole and valid. Its arrays are
 * its own; its keys' bytes are a view of the buffer reads share (used at once, by opening).
 * The blocks `extentOnly` picks get their `extent` instead of their arrays: opening needs no
 * more of history's blocks, and copying them was most of what reading an index cost.
 */
export function readIndex(
  file: string,
  extentOnly: (block: BlockHeader) => boolean = () => false,
): SegmentIndex | undefined {
  const data = readShared(file);
  if (!data) return undefined;
  const at = INDEX_MAGIC.length + 8;
  if (data.length < at || !data.subarray(0, INDEX_MAGIC.length).equals(INDEX_MAGIC))
    return undefined;
  const length = data.readUInt32LE(INDEX_MAGIC.length);
  if (at + length !== data.length) return undefined;
  const payload = data.subarray(at);
  if (crc32(payload) !== data.readUInt32LE(INDEX_MAGIC.length + 4)) return undefined;
  try {
    const [version, segment, bytes, sealedAt, blocks] = packr.unpack(payload) as [
      number,
      number,
      number,
      number,
      EncodedBlock[],
    ];
    if (version !== VERSION) return undefined;
    return {
      segment,
      bytes,
      sealedAt,
      blocks: blocks.map(([topic, partition, first, positions, slots, keys]) => ({
        topic,
        partition,
        first,
        ...(extentOnly({ topic, partition, last: first + positions.length / 4 - 1, sealedAt })
          ? { positions: NO_POSITIONS, slots: NO_SLOTS, extent: extentOf(first, positions) }
          : {
              positions: copyInto(positions, (b) => new Uint32Array(b)),
              slots: copyInto(slots, (b) => new Int32Array(b)),
            }),
        ...(keys
          ? {
              keys: {
                offsets: copyInto(keys[0], (b) => new Float64Array(b)),
                lengths: copyInto(keys[1], (b) => new Int32Array(b)),
                bytes: keys[2],
                tombstones: copyInto(keys[3], (b) => new Uint8Array(b)),
              },
            }
          : {}),
      })),
    };
  } catch {
    return undefined;
  }
}

const NO_POSITIONS = new Uint32Array(0);
const NO_SLOTS = new Int32Array(0);

/**
 * The first and last offsets of a block holding a record, and how many do, from its positions
 * (as encoded, or as an array).
 */
export function extentOf(first: number, positions: Buffer | Uint32Array): BlockExtent {
  // An encoded block's positions are little-endian u32s, maybe unaligned: read where they lie.
  const view =
    positions instanceof Buffer
      ? new DataView(positions.buffer, positions.byteOffset, positions.byteLength)
      : undefined;
  const length = view ? view.byteLength / 4 : positions.length;
  const at = view ? (i: number) => view.getUint32(i * 4, true) : (i: number) => positions[i]!;
  let count = 0;
  let from = -1;
  let to = -1;
  for (let i = 0; i < length; i++) {
    if (at(i) === NO_POSITION) continue;
    count++;
    if (from < 0) from = i;
    to = i;
  }
  return { first: first + from, last: first + to, count };
}

/**
 * Collects the keys of a compacted partition's records while a segment is written: each key's
 * last record in the segment, the only one of them opening needs. Its earlier records here were
 * superseded as they were written (their positions are gone from the index), and a restart
 * rebuilds each key's latest record from these: a run's changelog gets a record at every
 * change, so keeping them all made opening look at every change of every run ever (measured:
 * a million keys, two thirds of the open's 593 ms, at 200,000 runs).
 */
export class KeyCollector {
  /** Key (latin1) → its last record here: offset, tombstone. */
  private readonly last = new Map<string, { offset: number; tombstone: boolean }>();

  /** Notes the record of `key` (latin1) at `offset`; returns the key's record here before. */
  add(offset: number, key: string, tombstone: boolean): number | undefined {
    const entry = this.last.get(key);
    if (!entry) {
      this.last.set(key, { offset, tombstone });
      return undefined;
    }
    const before = entry.offset;
    entry.offset = offset;
    entry.tombstone = tombstone;
    return before;
  }

  done(): IndexKeys {
    const entries = [...this.last].sort((x, y) => x[1].offset - y[1].offset);
    const names = entries.map(([name]) => name);
    return {
      offsets: Float64Array.from(entries, ([, e]) => e.offset),
      lengths: Int32Array.from(names, (name) => name.length),
      bytes: Buffer.from(names.join(""), "latin1"),
      tombstones: Uint8Array.from(entries, ([, e]) => (e.tombstone ? 1 : 0)),
    };
  }
}
