/**
 * A group member's pause and resume never throw while its kafkajs consumer does not run: from
 * its creation until it runs, and while kafkajs restarts it after a crash, kafkajs refuses
 * both ("Consumer group was not initialized"), and a worker's quiet-fetch timer that resumed a
 * partition then ended the process (seen in a chaos run). Against the real broker: called in
 * that window, they do nothing, and the member then runs as usual.
 */
import type { Kafka } from "kafkajs";
import { partitionOwnership } from "../../transport/group-ownership";
import type { OwnedBatch, PortPartitionOwnership } from "../../transport/port";
import { withAdmin } from "../../transport/topics";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const topic = `${config.topicPrefix}.owned`;
let kafka: Kafka;
let ownership: PortPartitionOwnership | undefined;

beforeAll(async () => {
  kafka = kafkaFor(config);
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    }),
  );
});

afterAll(async () => {
  await ownership?.leave();
});

it("pauses and resumes without throwing before the consumer runs, then fetches as usual", async () => {
  const fetched: string[] = [];
  let owned = new Set<number>();
  ownership = partitionOwnership(kafka, {
    groupId: `${config.topicPrefix}.owners`,
    topic,
    sessionTimeoutMs: 6_000,
    rebalanceTimeoutMs: 10_000,
    concurrency: 1,
    logger: testLogger(config),
  });
  const started = ownership.start({
    assigned: (partitions) => (owned = new Set(partitions)),
    fetched: (batch: OwnedBatch) => {
      for (const message of batch.messages) {
        fetched.push(message.value!.toString());
        batch.take(message.offset);
      }
      return Promise.resolve();
    },
    skipped: () => undefined,
    claimed: () => [],
  });
  // The consumer exists but does not run yet: kafkajs would throw here.
  const thrown = [() => ownership!.pause(0), () => ownership!.resume(0)].map((call) => {
    try {
      call();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  });
  await started;
  expect(thrown).toEqual([undefined, undefined]);
  await waitFor("the partition assigned", () => owned.has(0));

  // The member runs as usual after the calls it could not act on.
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value: "first", partition: 0 }] });
    await waitFor("the record fetched", () => fetched.includes("first"));
  } finally {
    await producer.disconnect();
  }
});
