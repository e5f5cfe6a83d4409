import type { OffsetEntry, RecordEntry } from "./frames";

/**
 * The payload of a records frame (kind 2) in Weft's own layout rather than MessagePack's: the
 * frame every send, decision and commit writes, so its encoding is on the path of every step.
 * Sizes are known before a byte is written, so the payload is one allocation; on reading, keys
 * and values are views of the payload, and each name (topic, group, header key) is decoded
 * once per frame. MessagePack took 8–9 % of the embedded engine's CPU in a burst, and its
 * decoder 11 % of the allocations.
 *
 * Layout, little-endian:
 *
 *   u8  0xc1 (a byte MessagePack never uses: no MessagePack frame starts with it)
 *   u8  2 (the frame kind)
 *   u16 names; each: u16 byte length, UTF-8
 *   u32 records; each:
 *     u16 topic (name index), u32 partition, f64 timestamp,
 *     u32 key length (0xffffffff: null) and bytes, u32 value length (the same) and bytes,
 *     u16 headers; each: u16 key (name index), u32 length and bytes
 *   u32 offsets; each: u16 group, u16 topic (name indexes), u32 partition, f64 next offset
 *
 * Logs written before this layout keep their MessagePack frames, which are still read.
 */
export const RECORDS_MARK = 0xc1;
const RECORDS_KIND = 2;
const MAX_NAMES = 0xffff;
const MAX_NAME_BYTES = 0xffff;
/** The length written for a null key or value. */
const NULL_LENGTH = 0xffffffff;

/**
 * The payload of a records frame after `headroom` bytes left for the caller (the frame's
 * header, so that the frame is this one buffer), or undefined when it names more than 65,535
 * strings or one longer than 65,535 bytes.
 */
export function encodeRecordsPayload(
  records: readonly RecordEntry[],
  offsets: readonly OffsetEntry[],
  headroom = 0,
): Buffer | undefined {
  // Names first: a frame holds a few topics and header keys, each written once.
  const names = new Map<string, number>();
  const nameList: string[] = [];
  let size = headroom + 2 + 2 + 4 + 4;
  let fits = true;
  const name = (text: string): void => {
    if (names.has(text)) return;
    names.set(text, nameList.length);
    nameList.push(text);
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_NAME_BYTES) fits = false;
    size += 2 + bytes;
  };
  for (const record of records) {
    name(record[0]);
    size += 24 + (record[3]?.length ?? 0) + (record[4]?.length ?? 0);
    const headers = record[5];
    for (let h = 0; h < headers.length; h++) {
      name(headers[h]![0]);
      size += 6 + headers[h]![1].length;
    }
  }
  for (const offset of offsets) {
    name(offset[0]);
    name(offset[1]);
    size += 16;
  }
  if (!fits || nameList.length > MAX_NAMES) return undefined;

  const out = Buffer.allocUnsafe(size);
  out[headroom] = RECORDS_MARK;
  out[headroom + 1] = RECORDS_KIND;
  let at = writeU16(out, headroom + 2, nameList.length);
  for (const text of nameList) {
    const length = out.write(text, at + 2, "utf8");
    writeU16(out, at, length);
    at += 2 + length;
  }
  at = writeU32(out, at, records.length);
  for (const record of records) {
    at = writeU16(out, at, names.get(record[0])!);
    at = writeU32(out, at, record[1]);
    at = out.writeDoubleLE(record[2], at);
    at = writeBytes(out, at, record[3]);
    at = writeBytes(out, at, record[4]);
    const headers = record[5];
    at = writeU16(out, at, headers.length);
    for (let h = 0; h < headers.length; h++) {
      const [key, value] = headers[h]!;
      at = writeU16(out, at, names.get(key)!);
      at = writeU32(out, at, value.length);
      out.set(value, at);
      at += value.length;
    }
  }
  at = writeU32(out, at, offsets.length);
  for (const [group, topic, partition, next] of offsets) {
    at = writeU16(out, at, names.get(group)!);
    at = writeU16(out, at, names.get(topic)!);
    at = writeU32(out, at, partition);
    at = out.writeDoubleLE(next, at);
  }
  return out;
}

function writeU16(out: Buffer, at: number, value: number): number {
  out[at] = value;
  out[at + 1] = value >>> 8;
  return at + 2;
}

function writeU32(out: Buffer, at: number, value: number): number {
  out[at] = value;
  out[at + 1] = value >>> 8;
  out[at + 2] = value >>> 16;
  out[at + 3] = value >>> 24;
  return at + 4;
}

/** A length (NULL_LENGTH for null) and the bytes. */
function writeBytes(out: Buffer, at: number, value: Buffer | null): number {
  if (value === null) return writeU32(out, at, NULL_LENGTH);
  at = writeU32(out, at, value.length);
  out.set(value, at);
  return at + value.length;
}

/** Whether a frame's payload is in this layout. */
export function isRecordsPayload(payload: Buffer): boolean {
  return payload.length >= 2 && payload[0] === RECORDS_MARK && payload[1] === RECORDS_KIND;
}

/**
 * Decodes a payload of this layout. Throws RangeError when it runs past its end or names a
 * string it lacks (the frame's CRC passed, so only a writer's bug could cause that).
 */
export function decodeRecordsPayload(payload: Buffer): [2, RecordEntry[], OffsetEntry[]] {
  const read = new PayloadReader(payload, 2);
  const names: string[] = [];
  for (let n = read.u16(); n > 0; n--) names.push(read.text(read.u16()));
  const named = (): string => {
    const text = names[read.u16()];
    if (text === undefined) throw new RangeError("a records frame names a string it lacks");
    return text;
  };
  const records: RecordEntry[] = [];
  for (let n = read.u32(); n > 0; n--) {
    const topic = named();
    const partition = read.u32();
    const timestamp = read.f64();
    const key = read.optional();
    const value = read.optional();
    const headers: [string, Buffer][] = [];
    for (let h = read.u16(); h > 0; h--) {
      const headerKey = named();
      headers.push([headerKey, read.view(read.u32())]);
    }
    records.push([topic, partition, timestamp, key, value, headers]);
  }
  const offsets: OffsetEntry[] = [];
  for (let n = read.u32(); n > 0; n--) offsets.push([named(), named(), read.u32(), read.f64()]);
  if (read.at !== payload.length) throw new RangeError("a records frame has bytes past its end");
  return [2, records, offsets];
}

/** Reads a payload front to back, failing on any read past its end. */
class PayloadReader {
  private readonly end: number;

  constructor(
    private readonly data: Buffer,
    public at: number,
  ) {
    this.end = data.length;
  }

  private need(n: number): void {
    if (this.at + n > this.end) throw new RangeError("a records frame runs past its end");
  }

  u16(): number {
    this.need(2);
    const { data, at } = this;
    this.at = at + 2;
    return data[at]! | (data[at + 1]! << 8);
  }

  u32(): number {
    this.need(4);
    const { data, at } = this;
    this.at = at + 4;
    return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16)) + data[at + 3]! * 0x1000000;
  }

  f64(): number {
    this.need(8);
    const value = this.data.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  text(length: number): string {
    this.need(length);
    const value = this.data.toString("utf8", this.at, this.at + length);
    this.at += length;
    return value;
  }

  /** A view of the next `length` bytes (the frame's bytes are a buffer of their own). */
  view(length: number): Buffer {
    this.need(length);
    const { data } = this;
    const value = Buffer.from(data.buffer, data.byteOffset + this.at, length);
    this.at += length;
    return value;
  }

  /** A length, 0xffffffff for null, and its bytes. */
  optional(): Buffer | null {
    const length = this.u32();
    return length === NULL_LENGTH ? null : this.view(length);
  }
}
