/**
 * The deciders' pipelined transactional producer against the real broker: a transaction's
 * records to several partitions (several batches to one partition too) and its consumed offset
 * become visible together and in order, transaction after transaction; a newer producer with
 * the same ID fences it; a commit that fails half-way (one partition's batch refused after
 * another's was written) shows nothing of it, and the next owner's fencing releases what the
 * broker held, so read_committed readers go on past it. All of it in both of Kafka's transaction
 * protocols: the first (AddPartitionsToTxn, AddOffsetsToTxn) and the second (KIP-890, which the
 * test broker finalizes: a produce adds its partition, each commit bumps the epoch).
 */
import type { Consumer, Kafka } from "kafkajs";
import { isFencingError } from "../../transport/fencing";
import { withAdmin } from "../../transport/topics";
import {
  pipelinedProducer,
  ProducerUnusableError,
  type TransactionVersion,
} from "../../adapters/kafka/pipelined-transactions";
import type { PortTransactionalProducer } from "../../transport/port";
import { isolatedConfig, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const wide = `${config.topicPrefix}.wide`;
const narrow = `${config.topicPrefix}.narrow`;
const source = `${config.topicPrefix}.source`;
const group = `${config.topicPrefix}.group`;
/** The narrow topic's largest record batch: a bigger record is refused (RECORD_TOO_LARGE). */
const NARROW_MAX_BYTES = 4096;

let kafka: Kafka;
const opened: PortTransactionalProducer[] = [];
const consumers: Consumer[] = [];

function producer(
  transactionalId: string,
  transactionVersion: TransactionVersion | "auto" = "auto",
): PortTransactionalProducer {
  const made = pipelinedProducer(kafka, {
    transactionalId,
    transactionTimeout: 30_000,
    transactionVersion,
  });
  if (!made) throw new Error("kafkajs's cluster factory is not reachable");
  opened.push(made);
  return made;
}

const message = (partition: number, value: string) => ({ key: value, value, partition });

/** What a read_committed (or read_uncommitted) consumer reads, per topic and partition, in order. */
async function committedReader(topics: string[], readUncommitted = false) {
  const seen = new Map<string, string[]>();
  const consumer = kafka.consumer({
    groupId: `${config.topicPrefix}.reader-${consumers.length}`,
    maxWaitTimeInMs: 50,
    readUncommitted,
  });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, partition, message: m }) => {
      const key = `${topic}/${partition}`;
      seen.set(key, [...(seen.get(key) ?? []), m.value!.toString()]);
      return Promise.resolve();
    },
  });
  return {
    of: (topic: string, partition: number) => seen.get(`${topic}/${partition}`) ?? [],
    countOf: (which: (value: string) => boolean) =>
      [...seen.values()].reduce((n, list) => n + list.filter(which).length, 0),
  };
}

beforeAll(async () => {
  kafka = kafkaFor(config);
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: wide, numPartitions: 3, replicationFactor: 1 },
        {
          topic: narrow,
          numPartitions: 2,
          replicationFactor: 1,
          configEntries: [{ name: "max.message.bytes", value: String(NARROW_MAX_BYTES) }],
        },
        { topic: source, numPartitions: 1, replicationFactor: 1 },
      ],
    }),
  );
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.disconnect()));
  await Promise.all(opened.map((p) => p.disconnect()));
});

describe.each([1, 2] as const)("transaction protocol %i", (version) => {
  const ofThisVersion = (value: string) => value.startsWith(`v${version}`);

  it("commits records to several partitions and the consumed offset together, in order, commit after commit", async () => {
    const writer = producer(`${config.topicPrefix}.writer-v${version}`, version);
    await writer.connect();
    const COMMITS = 40;
    for (let i = 0; i < COMMITS; i++) {
      const tx = await writer.transaction();
      // Two batches to one partition of `wide`: two produce requests, in order.
      await tx.sendBatch({
        topicMessages: [
          {
            topic: wide,
            messages: [message(i % 3, `v${version}w${i}a`), message(i % 3, `v${version}w${i}b`)],
          },
        ],
      });
      await tx.sendBatch({
        topicMessages: [{ topic: wide, messages: [message(i % 3, `v${version}w${i}c`)] }],
      });
      await tx.sendBatch({
        topicMessages: [{ topic: narrow, messages: [message(i % 2, `v${version}n${i}`)] }],
      });
      await tx.sendOffsets({
        consumerGroupId: `${group}-v${version}`,
        topics: [{ topic: source, partitions: [{ partition: 0, offset: String(i + 1) }] }],
      });
      await tx.commit();
    }

    const reader = await committedReader([wide, narrow]);
    await waitFor("every committed record", () => reader.countOf(ofThisVersion) === COMMITS * 4);
    for (let p = 0; p < 3; p++) {
      const expected = [];
      for (let i = p; i < COMMITS; i += 3)
        expected.push(`v${version}w${i}a`, `v${version}w${i}b`, `v${version}w${i}c`);
      expect(reader.of(wide, p).filter(ofThisVersion)).toEqual(expected);
    }
    for (let p = 0; p < 2; p++) {
      const expected = [];
      for (let i = p; i < COMMITS; i += 2) expected.push(`v${version}n${i}`);
      expect(reader.of(narrow, p).filter(ofThisVersion)).toEqual(expected);
    }
    const offsets = await withAdmin(kafka, (admin) =>
      admin.fetchOffsets({ groupId: `${group}-v${version}`, topics: [source] }),
    );
    expect(offsets[0]!.partitions[0]!.offset).toBe(String(COMMITS));
  });

  it("is fenced by a newer producer with its ID: the commit fails, shows nothing, and the producer is done", async () => {
    const id = `${config.topicPrefix}.fenced-v${version}`;
    const zombie = producer(id, version);
    await zombie.connect();
    const late = await zombie.transaction();
    await late.sendBatch({
      topicMessages: [{ topic: wide, messages: [message(0, `zombie-v${version}`)] }],
    });

    const owner = producer(id, version);
    await owner.connect();
    const err = await late.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFencingError(err)).toBe(true);
    await late.abort();
    await expect(zombie.transaction()).rejects.toBeInstanceOf(ProducerUnusableError);

    const tx = await owner.transaction();
    await tx.sendBatch({
      topicMessages: [{ topic: wide, messages: [message(0, `owner-v${version}`)] }],
    });
    await tx.commit();
    const reader = await committedReader([wide]);
    await waitFor("the owner's record", () => reader.of(wide, 0).includes(`owner-v${version}`));
    expect(reader.of(wide, 0)).not.toContain(`zombie-v${version}`);
  });

  it("shows nothing of a commit that failed half-way, and the next owner's fencing lets readers past it", async () => {
    const id = `${config.topicPrefix}.half-v${version}`;
    const first = producer(id, version);
    await first.connect();
    const tx = await first.transaction();
    // The wide record is written; the narrow one is refused by the broker as too large.
    await tx.sendBatch({
      topicMessages: [{ topic: wide, messages: [message(1, `half-written-v${version}`)] }],
    });
    await tx.sendBatch({
      topicMessages: [{ topic: narrow, messages: [message(0, "x".repeat(NARROW_MAX_BYTES * 2))] }],
    });
    await expect(tx.commit()).rejects.toMatchObject({ type: "MESSAGE_TOO_LARGE" });
    await expect(first.transaction()).rejects.toBeInstanceOf(ProducerUnusableError);

    const next = producer(id, version);
    await next.connect();
    const after = await next.transaction();
    await after.sendBatch({
      topicMessages: [{ topic: wide, messages: [message(1, `after-v${version}`)] }],
    });
    await after.commit();

    const reader = await committedReader([wide]);
    await waitFor("the record committed after the failed commit", () =>
      reader.of(wide, 1).includes(`after-v${version}`),
    );
    expect(reader.of(wide, 1)).not.toContain(`half-written-v${version}`);
    // It was written, though: the failure came after the wide partition's batch.
    const everything = await committedReader([wide], true);
    await waitFor("the failed commit's written record", () =>
      everything.of(wide, 1).includes(`half-written-v${version}`),
    );
  });
});

it("takes the second protocol where the broker speaks it", async () => {
  const made = producer(`${config.topicPrefix}.auto`);
  await made.connect();
  expect((made as unknown as { transactionVersion: TransactionVersion }).transactionVersion).toBe(
    2,
  );
});
