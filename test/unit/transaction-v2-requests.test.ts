/**
 * The decoders of Kafka's second transaction protocol's responses, on responses built byte by
 * byte as the protocol lays them out: filled tagged fields (a broker sends the new leader
 * beside NOT_LEADER_OR_FOLLOWER, and its endpoint) are skipped whole, so the partitions after
 * them are read at the right place, and a partition's error is thrown as kafkajs's own error,
 * retriable where the broker's code is. The requests themselves are checked by the broker, in
 * test/integration/pipelined-transactions.test.ts.
 */
import {
  endTxnV5,
  produceV12,
  speaksTransactionV2,
} from "../../adapters/kafka/transaction-v2-requests";

const NOT_LEADER_OR_FOLLOWER = 6;
const INVALID_PRODUCER_EPOCH = 47;

/** The unsigned varint of Kafka's flexible versions. */
function uvarint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}
const int16 = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}
function int64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}
const compactString = (s: string | null) =>
  s === null ? uvarint(0) : Buffer.concat([uvarint(Buffer.byteLength(s) + 1), Buffer.from(s)]);
const compactArray = (items: Buffer[]) => Buffer.concat([uvarint(items.length + 1), ...items]);
const noTags = uvarint(0);
/** A tagged-field section of these fields: count, then each tag, size and bytes. */
const tags = (fields: [number, Buffer][]) =>
  Buffer.concat([
    uvarint(fields.length),
    ...fields.flatMap(([tag, data]) => [uvarint(tag), uvarint(data.length), data]),
  ]);

function partitionResponse(index: number, errorCode: number, tagged: Buffer): Buffer {
  return Buffer.concat([
    int32(index),
    int16(errorCode),
    int64(-1n),
    int64(-1n),
    int64(0n),
    compactArray([]), // record errors
    compactString(errorCode === 0 ? null : "not the leader"),
    tagged,
  ]);
}

function produceResponse(): Buffer {
  // Tag 0 of a partition response: the current leader (ID, epoch, tags).
  const currentLeader = Buffer.concat([int32(2), int32(7), noTags]);
  // Tag 0 of the response: the endpoints of the nodes named as leaders.
  const nodeEndpoints = compactArray([
    Buffer.concat([
      int32(2),
      compactString("broker-2.example"),
      int32(9092),
      compactString(null),
      noTags,
    ]),
  ]);
  return Buffer.concat([
    noTags, // response header
    compactArray([
      Buffer.concat([
        compactString("weft.history"),
        compactArray([
          partitionResponse(0, NOT_LEADER_OR_FOLLOWER, tags([[0, currentLeader]])),
          partitionResponse(1, 0, noTags),
        ]),
        noTags,
      ]),
      Buffer.concat([
        compactString("weft.tasks"),
        compactArray([partitionResponse(3, 0, noTags)]),
        noTags,
      ]),
    ]),
    int32(0), // throttle time
    tags([[0, nodeEndpoints]]),
  ]);
}

const produce = () =>
  produceV12({ transactionalId: "t", acks: -1, timeout: 1000, topicData: [] }).response;

it("reads every partition of a Produce v12 response past filled tagged fields", async () => {
  const decoded = await produce().decode(produceResponse());
  expect(decoded.errorCodes).toEqual([NOT_LEADER_OR_FOLLOWER, 0, 0]);
});

it("throws a partition's error as kafkajs's retriable error, and passes a response without one", async () => {
  const decoded = await produce().decode(produceResponse());
  await expect(produce().parse(decoded)).rejects.toMatchObject({
    type: "NOT_LEADER_FOR_PARTITION", // kafkajs's name of code 6
    retriable: true,
  });
  await expect(produce().parse({ errorCodes: [0, 0] })).resolves.toEqual({ errorCodes: [0, 0] });
});

it("reads the producer's next epoch from an EndTxn v5 response, and throws its error", async () => {
  const response = endTxnV5({
    transactionalId: "t",
    producerId: "17",
    producerEpoch: 3,
    committed: true,
  }).response;
  const ok = await response.decode(
    Buffer.concat([noTags, int32(0), int16(0), int64(17n), int16(4), noTags]),
  );
  expect(await response.parse(ok)).toEqual({ errorCode: 0, producerId: "17", producerEpoch: 4 });
  const fenced = await response.decode(
    Buffer.concat([noTags, int32(0), int16(INVALID_PRODUCER_EPOCH), int64(-1n), int16(-1), noTags]),
  );
  await expect(response.parse(fenced)).rejects.toMatchObject({ type: "INVALID_PRODUCER_EPOCH" });
});

it("takes the second protocol only from a broker that offers all three of its versions", () => {
  const versions = (produce: number, endTxn: number, txnOffsetCommit: number) => ({
    0: { minVersion: 3, maxVersion: produce },
    26: { minVersion: 0, maxVersion: endTxn },
    28: { minVersion: 0, maxVersion: txnOffsetCommit },
  });
  expect(speaksTransactionV2(versions(12, 5, 5))).toBe(true);
  expect(speaksTransactionV2(versions(13, 5, 5))).toBe(true);
  // A Kafka 4 broker whose cluster has not finalized transaction.version 2.
  expect(speaksTransactionV2(versions(11, 4, 4))).toBe(false);
  expect(speaksTransactionV2(versions(12, 4, 5))).toBe(false);
  expect(speaksTransactionV2(undefined)).toBe(false);
});
