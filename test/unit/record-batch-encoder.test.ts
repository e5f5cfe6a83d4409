/**
 * The pipelined producer's record batches are the batches kafkajs's producer writes, byte for
 * byte (kafkajs 2.2.4's own encoder, loaded by path, is the reference), and decode back to
 * their records with Weft's decoder.
 */
import { createRequire } from "node:module";
import { decodeBatch, encodeRecordBatch } from "../../adapters/kafka/record-batches";
import type { PortMessage } from "../../transport/port";

const kafkajs = createRequire(require.resolve("kafkajs"));
const Record = kafkajs("./src/protocol/recordBatch/record/v0") as (r: object) => unknown;
const { RecordBatch } = kafkajs("./src/protocol/recordBatch/v0") as {
  RecordBatch: (b: object) => Promise<{ buffer: Buffer }>;
};

const NOW = 1_796_000_000_123;

async function kafkajsBatch(
  messages: PortMessage[],
  identity: { producerId: string; producerEpoch: number },
  firstSequence: number,
): Promise<Buffer> {
  const stamps = messages.map((m) => (m.timestamp == null ? NOW : Number(m.timestamp)));
  const first = Math.min(...stamps);
  const batch = await RecordBatch({
    records: messages.map((m, i) =>
      Record({ ...m, offsetDelta: i, timestampDelta: stamps[i]! - first }),
    ),
    firstTimestamp: first,
    maxTimestamp: Math.max(...stamps),
    producerId: identity.producerId,
    producerEpoch: identity.producerEpoch,
    firstSequence,
    transactional: true,
    lastOffsetDelta: messages.length - 1,
  });
  return batch.buffer;
}

const messagesOf = (n: number, seed: number): PortMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 5 === 4 ? null : `wf-${seed}-${i}`,
    value: i % 7 === 6 ? null : Buffer.alloc((i * 37 + seed) % 400, i),
    headers: {
      "weft-schema": "weft.HistoryEvent",
      "weft-schema-version": String(7 + (i % 2)),
      ...(i % 3 === 0 ? { many: ["a", Buffer.from("bé")] } : {}),
    },
  }));

describe("encodeRecordBatch", () => {
  it.each([
    ["one record", messagesOf(1, 1), "4000", 0, 0],
    ["200 records, nulls, repeated headers", messagesOf(200, 2), "123456789012", 3, 2 ** 31 - 5],
    [
      "records with their own timestamps",
      messagesOf(5, 3).map((m, i) => ({ ...m, timestamp: String(NOW - 1000 * i) })),
      "77",
      1,
      9,
    ],
  ])("writes %s as kafkajs does", async (_, messages, producerId, producerEpoch, sequence) => {
    const identity = { producerId, producerEpoch, transactional: true };
    const ours = encodeRecordBatch(identity, sequence, messages, NOW);
    expect(ours.equals(await kafkajsBatch(messages, identity, sequence))).toBe(true);

    const decoded = decodeBatch(ours, 0);
    expect(decoded?.next).toBe(ours.length);
    const batch = decoded!.batch;
    expect(batch.transactional).toBe(true);
    expect(batch.producerId).toBe(producerId);
    expect(batch.records.map((r) => r.key?.toString() ?? null)).toEqual(
      messages.map((m) => (m.key == null ? null : String(m.key))),
    );
    expect(batch.records.map((r) => r.value?.length ?? null)).toEqual(
      messages.map((m) => (m.value == null ? null : (m.value as Buffer).length)),
    );
  });
});
