/**
 * A Produce request's body written once, into one buffer measured first. Through kafkajs's
 * encoders, a batch's bytes were copied once per level of nesting (partition, topic, body),
 * each level into a zero-filled buffer grown by doubling; a burst's requests carry hundreds of
 * kilobytes, and those copies and allocations were a few percent of the decider's CPU. The
 * bytes are the ones kafkajs's encoders write (test/unit/produce-body.test.ts compares them).
 */
import type { ProduceTopicData } from "./produce-request";

export interface ProduceBodyArgs {
  transactionalId: string | null;
  acks: number;
  timeout: number;
  topicData: readonly ProduceTopicData[];
}

/**
 * What kafkajs's request framing takes from a request's `encode()`: an encoder's buffer
 * (`buf`, checked to be a Buffer) and the bytes written (`buffer`).
 */
export interface EncodedBody {
  readonly buf: Buffer;
  readonly buffer: Buffer;
}

/**
 * Produce v7's body (Kafka's first transaction protocol, and idempotent produces): int16
 * lengths and int32 counts.
 */
export function produceBodyV7(args: ProduceBodyArgs): EncodedBody {
  const id = args.transactionalId === null ? null : Buffer.from(args.transactionalId, "utf8");
  const names = args.topicData.map(({ topic }) => Buffer.from(topic, "utf8"));
  let size = 2 + (id?.length ?? 0) + 2 + 4 + 4;
  args.topicData.forEach(({ partitions }, i) => {
    size += 2 + names[i]!.length + 4;
    for (const { batch } of partitions) size += 4 + 4 + batch.length;
  });
  const out = Buffer.allocUnsafe(size);
  let at = writeInt16String(out, 0, id);
  at = out.writeInt16BE(args.acks, at);
  at = out.writeInt32BE(args.timeout, at);
  at = out.writeInt32BE(args.topicData.length, at);
  args.topicData.forEach(({ partitions }, i) => {
    at = writeInt16String(out, at, names[i]!);
    at = out.writeInt32BE(partitions.length, at);
    for (const { partition, batch } of partitions) {
      at = out.writeInt32BE(partition, at);
      at = out.writeInt32BE(batch.length, at);
      out.set(batch, at);
      at += batch.length;
    }
  });
  return encoded(out, at);
}

/**
 * Produce v12's body (Kafka's second transaction protocol; a flexible version): it begins
 * with the request header's empty tagged fields (see transaction-v2-requests.ts), then compact
 * strings, arrays and records, each partition, topic and the body ending in empty tagged fields.
 */
export function produceBodyV12(args: ProduceBodyArgs): EncodedBody {
  const id = args.transactionalId === null ? null : Buffer.from(args.transactionalId, "utf8");
  const names = args.topicData.map(({ topic }) => Buffer.from(topic, "utf8"));
  let size = 1 + compactSize(id) + 2 + 4 + uvarintSize(args.topicData.length + 1) + 1;
  args.topicData.forEach(({ partitions }, i) => {
    size += compactSize(names[i]!) + uvarintSize(partitions.length + 1) + 1;
    for (const { batch } of partitions) size += 4 + compactSize(batch) + 1;
  });
  const out = Buffer.allocUnsafe(size);
  let at = writeUVarInt(out, 0, 0); // the request header's tagged fields
  at = writeCompact(out, at, id);
  at = out.writeInt16BE(args.acks, at);
  at = out.writeInt32BE(args.timeout, at);
  at = writeUVarInt(out, at, args.topicData.length + 1);
  args.topicData.forEach(({ partitions }, i) => {
    at = writeCompact(out, at, names[i]!);
    at = writeUVarInt(out, at, partitions.length + 1);
    for (const { partition, batch } of partitions) {
      at = out.writeInt32BE(partition, at);
      at = writeCompact(out, at, batch);
      at = writeUVarInt(out, at, 0);
    }
    at = writeUVarInt(out, at, 0);
  });
  at = writeUVarInt(out, at, 0);
  return encoded(out, at);
}

function encoded(out: Buffer, written: number): EncodedBody {
  if (written !== out.length)
    throw new Error(`a Produce body measured ${out.length} bytes was written in ${written}`);
  return { buf: out, buffer: out };
}

function writeInt16String(out: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return out.writeInt16BE(-1, at);
  at = out.writeInt16BE(bytes.length, at);
  out.set(bytes, at);
  return at + bytes.length;
}

/** A compact (nullable) string or bytes: its length + 1 as an unsigned varint (0: null). */
function compactSize(bytes: Buffer | null): number {
  return bytes === null ? 1 : uvarintSize(bytes.length + 1) + bytes.length;
}

function writeCompact(out: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return writeUVarInt(out, at, 0);
  at = writeUVarInt(out, at, bytes.length + 1);
  out.set(bytes, at);
  return at + bytes.length;
}

function uvarintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeUVarInt(out: Buffer, at: number, value: number): number {
  while (value > 0x7f) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}
