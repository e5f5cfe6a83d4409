/**
 * Weft's murmur2 picks the partition kafkajs's default partitioner (Java's) picks for every
 * key: a command must reach the partition whose decider owns its run, whichever producer sent
 * it (a client, a worker, a decider, Kafka tooling).
 */
import fc from "fast-check";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { murmur2, partitionForKey } from "../../transport/partitioning";

const kafkajs = Partitioners.DefaultPartitioner();
const metadata = (count: number): PartitionMetadata[] =>
  Array.from({ length: count }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
const kafkajsPartition = (key: string | Buffer, count: number) =>
  kafkajs({ topic: "t", partitionMetadata: metadata(count), message: { key, value: null } });

it("picks kafkajs's partition for any text key and partition count", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.integer({ min: 1, max: 512 }),
      (key, count) => {
        expect(partitionForKey("t", key, count)).toBe(kafkajsPartition(key, count));
      },
    ),
    { numRuns: 2000 },
  );
});

it("picks kafkajs's partition for any byte key, every length modulo 4 included", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 67 }),
      fc.integer({ min: 1, max: 64 }),
      (bytes, count) => {
        const key = Buffer.from(bytes);
        expect(partitionForKey("t", key, count)).toBe(kafkajsPartition(key, count));
      },
    ),
    { numRuns: 2000 },
  );
});

it("gives Java's murmur2 for known inputs", () => {
  // Values of org.apache.kafka.common.utils.Utils.murmur2, as Kafka's own tests list them.
  const cases: [string, number][] = [
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ];
  for (const [input, expected] of cases) expect(murmur2(Buffer.from(input))).toBe(expected);
});
