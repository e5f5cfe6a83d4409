/**
 * Kafka record batches (message format v2) decoded straight from a fetch response's bytes.
 *
 * A decider's restore reads tens of thousands of changelog records, most of them superseded
 * (compaction has not reached the last seconds of decisions). kafkajs's decoder builds each
 * record through a chain of objects: 64-bit Long arithmetic and strings for its offset and
 * timestamp, a copy of its bytes, a header object rebuilt by spreading per header. That was
 * most of a restore's CPU (measured: 240 ms of one core for 58,000 records). Here a record is
 * its offset, key, value and headers, read with plain arithmetic. The value is copied out of
 * the response (a restored run keeps its events), so nothing kept from a restore holds a whole
 * response alive; key and header values are views into it, read and dropped with the record
 * (copied, they shared the pool's slabs with the values kept and stayed with them: 0.4 KB
 * more per restored open run).
 *
 * Compressed batches (Weft's producers do not compress; another producer might) are left to
 * the caller: `decodeBatch` reports them so that kafkajs's codecs decode them instead.
 */
import { addHeader, headerEntries, headerTextBytes, recordBytes } from "../../transport/headers";
import type { PortHeaders, PortMessage } from "../../transport/port";
import { kafkajsModule } from "./kafkajs-modules";

const crc32C = kafkajsModule("./src/protocol/recordBatch/crc32C") as (bytes: Buffer) => number;

/** The header of a v2 batch, up to and including its record count. */
export const BATCH_HEADER_BYTES = 61;
const LENGTH_OFFSET = 8;
const MAGIC_OFFSET = 16;
const ATTRIBUTES_OFFSET = 21;
const LAST_OFFSET_DELTA_OFFSET = 23;
const BASE_TIMESTAMP_OFFSET = 27;
const MAX_TIMESTAMP_OFFSET = 35;
const PRODUCER_ID_OFFSET = 43;
const RECORD_COUNT_OFFSET = 57;
/** Bytes of a batch before its length field ends (base offset and length). */
const LOG_OVERHEAD = 12;

const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

export interface DecodedRecord {
  /** The record's offset, as text (as kafkajs and the ports give it). */
  offset: string;
  timestamp: string;
  /** The record's own attributes byte (unused by Kafka so far: 0). */
  attributes: number;
  /** A view into the fetch response: read it, do not keep it. */
  key: Buffer | null;
  /** A copy: may be kept. */
  value: Buffer | null;
  /** Views into the fetch response, as the key. */
  headers: PortHeaders;
}

export interface DecodedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  producerId: string;
  transactional: boolean;
  control: boolean;
  /** Codec bits of the batch's attributes: records are not decoded when not 0. */
  compression: number;
  records: DecodedRecord[];
}

export class RecordBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordBatchError";
  }
}

/** Reads varints and byte strings of one record's bytes. */
class Cursor {
  pos: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  /** An unsigned varint, up to 53 bits, then zigzag-decoded. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new RecordBatchError("a varint runs past its record");
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 56) throw new RecordBatchError("a varint is longer than 8 bytes");
    }
    // Zigzag: even values are non-negative, odd ones negative.
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** A varint-length byte string, as a view into the batch (null for length -1). */
  view(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    const start = this.pos;
    this.pos += length;
    if (this.pos > this.end) throw new RecordBatchError("a field runs past its record");
    return this.buf.subarray(start, this.pos);
  }

  /** A varint-length byte string copied out (null for length -1). */
  copy(): Buffer | null {
    const view = this.view();
    return view === null ? null : Buffer.from(view);
  }

  text(): string {
    const length = this.varint();
    const start = this.pos;
    this.pos += Math.max(0, length);
    if (this.pos > this.end) throw new RecordBatchError("a header key runs past its record");
    return this.buf.toString("utf8", start, this.pos);
  }
}

/**
 * The batch at `pos` of `buf`, or undefined when `buf` ends inside it (a fetch's byte limit
 * fell there: the next fetch starts at that batch). Also returns where the next batch starts.
 */
export function decodeBatch(
  buf: Buffer,
  pos: number,
): { batch: DecodedBatch; next: number } | undefined {
  if (buf.length - pos < BATCH_HEADER_BYTES) return undefined;
  const length = buf.readInt32BE(pos + LENGTH_OFFSET);
  const end = pos + LOG_OVERHEAD + length;
  if (end > buf.length) return undefined;
  const magic = buf.readInt8(pos + MAGIC_OFFSET);
  if (magic !== 2) throw new RecordBatchError(`record format ${magic} is not supported`);
  const baseOffset = buf.readBigInt64BE(pos);
  const attributes = buf.readInt16BE(pos + ATTRIBUTES_OFFSET);
  const lastOffset = baseOffset + BigInt(buf.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET));
  const batch: DecodedBatch = {
    baseOffset,
    lastOffset,
    producerId: buf.readBigInt64BE(pos + PRODUCER_ID_OFFSET).toString(),
    transactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    control: (attributes & CONTROL_FLAG) !== 0,
    compression: attributes & COMPRESSION_MASK,
    records: [],
  };
  if (batch.compression !== 0) return { batch, next: end };
  const count = buf.readInt32BE(pos + RECORD_COUNT_OFFSET);
  // Offsets and timestamps in plain numbers while they are exact (always, in practice).
  const base = Number(baseOffset);
  const baseTimestamp = Number(buf.readBigInt64BE(pos + BASE_TIMESTAMP_OFFSET));
  const exact = Number.isSafeInteger(base) && Number.isSafeInteger(baseTimestamp);
  // A topic with LogAppendTime stamps every record of a batch with the batch's max timestamp.
  const appendTime =
    (attributes & LOG_APPEND_TIME_FLAG) !== 0
      ? buf.readBigInt64BE(pos + MAX_TIMESTAMP_OFFSET).toString()
      : undefined;
  const cursor = new Cursor(buf, pos + BATCH_HEADER_BYTES, end);
  for (let i = 0; i < count; i++) {
    const size = cursor.varint();
    const recordEnd = cursor.pos + size;
    if (size < 0 || recordEnd > end) throw new RecordBatchError("a record runs past its batch");
    const attributesByte = buf[cursor.pos]!;
    const record = new Cursor(buf, cursor.pos + 1, recordEnd);
    const timestampDelta = record.varint();
    const offsetDelta = record.varint();
    const key = record.view();
    const value = record.copy();
    const headers: PortHeaders = {};
    const headerCount = record.varint();
    for (let h = 0; h < headerCount; h++) {
      const name = record.text();
      addHeader(headers, name, record.view() ?? Buffer.alloc(0));
    }
    batch.records.push({
      offset: exact ? String(base + offsetDelta) : (baseOffset + BigInt(offsetDelta)).toString(),
      timestamp:
        appendTime ??
        (exact
          ? String(baseTimestamp + timestampDelta)
          : (BigInt(baseTimestamp) + BigInt(timestampDelta)).toString()),
      attributes: attributesByte,
      key,
      value,
      headers,
    });
    cursor.pos = recordEnd;
  }
  return { batch, next: end };
}

/*
 * Encoding, for the pipelined producer's Produce requests. kafkajs 2.2.4 encodes every record,
 * and each of its headers, through encoders that each allocate a zero-filled 512-byte buffer
 * of their own: in a burst that was a fifth of the decider's CPU, most of it allocation and
 * the garbage collection that followed. Here a batch is one buffer, measured first. It is the
 * batch kafkajs's producer writes: v2, uncompressed, the transactional flag, the producer's ID,
 * epoch and first sequence number, create-time timestamps.
 */

export interface BatchIdentity {
  /** The producer ID, as kafkajs returns it (a decimal string). */
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly transactional: boolean;
}

/** One uncompressed record batch (v2) holding `messages` from `firstSequence` on. */
export function encodeRecordBatch(
  identity: BatchIdentity,
  firstSequence: number,
  messages: readonly PortMessage[],
  now = Date.now(),
): Buffer {
  const records = messages.map((m) => encodedRecord(m, now));
  const timestamps = { first: records[0]!.timestamp, max: records[0]!.timestamp };
  for (const { timestamp } of records) {
    timestamps.first = Math.min(timestamps.first, timestamp);
    timestamps.max = Math.max(timestamps.max, timestamp);
  }
  let size = BATCH_HEADER_BYTES;
  records.forEach((r, i) => (size += r.length(i, timestamps.first)));
  const out = Buffer.allocUnsafe(size);
  out.writeBigInt64BE(0n, 0); // base offset: the broker assigns it
  out.writeInt32BE(size - LOG_OVERHEAD, LENGTH_OFFSET);
  out.writeInt32BE(0, LOG_OVERHEAD); // partition leader epoch: the broker's to set
  out.writeInt8(2, MAGIC_OFFSET);
  out.writeInt16BE(identity.transactional ? TRANSACTIONAL_FLAG : 0, ATTRIBUTES_OFFSET);
  out.writeInt32BE(messages.length - 1, LAST_OFFSET_DELTA_OFFSET);
  out.writeBigInt64BE(BigInt(timestamps.first), BASE_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(BigInt(timestamps.max), MAX_TIMESTAMP_OFFSET);
  out.writeBigInt64BE(BigInt(identity.producerId), PRODUCER_ID_OFFSET);
  out.writeInt16BE(identity.producerEpoch, PRODUCER_ID_OFFSET + 8);
  out.writeInt32BE(firstSequence, PRODUCER_ID_OFFSET + 10);
  out.writeInt32BE(messages.length, RECORD_COUNT_OFFSET);
  let at = BATCH_HEADER_BYTES;
  records.forEach((r, i) => (at = r.write(out, at, i, timestamps.first)));
  // The checksum (CRC-32C) covers the batch from its attributes on.
  out.writeUInt32BE(crc32C(out.subarray(ATTRIBUTES_OFFSET)), MAGIC_OFFSET + 1);
  return out;
}

/** A record's parts, measured once: its length depends on its offset and time deltas. */
interface EncodedRecord {
  /** Its create time: the message's own, else the batch's `now`. */
  readonly timestamp: number;
  length(offsetDelta: number, firstTimestamp: number): number;
  write(out: Buffer, at: number, offsetDelta: number, firstTimestamp: number): number;
}

function encodedRecord(message: PortMessage, now: number): EncodedRecord {
  const key = recordBytes(message.key);
  const value = recordBytes(message.value);
  const headers = headerEntries(message.headers).map(([k, v]) => [headerTextBytes(k), v] as const);
  const timestamp = message.timestamp == null ? now : Number(message.timestamp);
  // Attributes (1), key, value and headers: all that does not depend on the deltas.
  let fixed = 1 + bytesSize(key) + bytesSize(value) + varIntSize(headers.length);
  for (const [k, v] of headers) fixed += bytesSize(k) + bytesSize(v);
  const bodyLength = (offsetDelta: number, first: number) =>
    fixed + varIntSize(timestamp - first) + varIntSize(offsetDelta);
  return {
    timestamp,
    length: (offsetDelta, first) => {
      const body = bodyLength(offsetDelta, first);
      return varIntSize(body) + body;
    },
    write: (out, at, offsetDelta, first) => {
      at = writeVarInt(out, at, bodyLength(offsetDelta, first));
      out.writeInt8(0, at++);
      at = writeVarInt(out, at, timestamp - first);
      at = writeVarInt(out, at, offsetDelta);
      at = writeBytes(out, at, key);
      at = writeBytes(out, at, value);
      at = writeVarInt(out, at, headers.length);
      for (const [k, v] of headers) {
        at = writeBytes(out, at, k);
        at = writeBytes(out, at, v);
      }
      return at;
    },
  };
}

function bytesSize(value: Buffer | null): number {
  return value === null ? varIntSize(-1) : varIntSize(value.length) + value.length;
}

function writeBytes(out: Buffer, at: number, value: Buffer | null): number {
  if (value === null) return writeVarInt(out, at, -1);
  at = writeVarInt(out, at, value.length);
  // TypedArray's own copy: Buffer's copy checks and converts its arguments first, which for
  // the small keys, values and headers of a record cost more than the copy.
  out.set(value, at);
  return at + value.length;
}

/** Bytes of a zigzag varint (varlong: a time delta may pass 2^31). */
function varIntSize(value: number): number {
  let zigzag = value >= 0 ? 2 * value : -2 * value - 1;
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 128);
    size++;
  }
  return size;
}

function writeVarInt(out: Buffer, at: number, value: number): number {
  let zigzag = value >= 0 ? 2 * value : -2 * value - 1;
  while (zigzag >= 0x80) {
    out[at++] = (zigzag % 128) | 0x80;
    zigzag = Math.floor(zigzag / 128);
  }
  out[at++] = zigzag;
  return at;
}
