/**
 * Weft's idempotent producer (adapters/kafka/encoded-producer.ts) against the real broker:
 * records sent side by side to several partitions arrive once each, in the order sent to each
 * partition, with their keys and headers, and the broker's offsets come back; a batch the
 * broker refuses for the producer's state goes again once under a new producer ID and is
 * written once; a batch refused for good fails its caller's send and nothing else; records
 * without a partition go through kafkajs's producer; and the Weft
 * client's idempotent producers are this one unless `encodedProduce` is off.
 */
import type { Consumer, Kafka } from "kafkajs";
import { encodedProducer } from "../../adapters/kafka/encoded-producer";
import { createKafka } from "../../adapters/kafka/client";
import { createLogger } from "../../core/logger";
import { withAdmin } from "../../transport/topics";
import type { PortProducer } from "../../transport/port";
import { isolatedConfig, waitFor } from "../support/env";
import { readPartitions } from "../support/partition-reader";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const topic = `${config.topicPrefix}.encoded`;

let kafka: Kafka;
const opened: { disconnect(): Promise<void> }[] = [];
const consumers: Consumer[] = [];

/** Every record of the topic, per partition, in order, as a read_committed consumer sees it. */
async function reader() {
  const read = await readPartitions(
    kafka,
    `${config.topicPrefix}.reader-${consumers.length}`,
    topic,
  );
  consumers.push(read.consumer);
  return read;
}

function ours(): PortProducer {
  const made = encodedProducer(kafka, kafka.producer({ idempotent: true }));
  if (!made) throw new Error("kafkajs's cluster factory is not reachable");
  opened.push(made);
  return made;
}

/** Sends one record, keyed by its value, to `partition`. */
function sender(producer: PortProducer, partition: number) {
  return (value: string) =>
    producer.sendBatch({
      topicMessages: [{ topic, messages: [{ key: value, value, partition }] }],
    });
}

beforeAll(async () => {
  kafka = kafkaFor(config);
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    }),
  );
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.disconnect()));
  await Promise.all(opened.map((p) => p.disconnect()));
});

it("writes records sent side by side once each, in order per partition, with keys, headers and offsets", async () => {
  const producer = ours();
  await producer.connect();
  const sends: Promise<unknown>[] = [];
  const offsets: string[][] = [[], [], []];
  for (let i = 0; i < 30; i++) {
    const partition = i % 3;
    sends.push(
      producer
        .sendBatch({
          topicMessages: [
            {
              topic,
              messages: [
                {
                  key: `k${i}`,
                  value: `a${i}`,
                  partition,
                  headers: { "weft-n": String(i), "weft-twice": String(2 * i) },
                },
                { key: `k${i}`, value: `b${i}`, partition },
              ],
            },
          ],
        })
        .then((meta) => offsets[partition]!.push(...meta.map((m) => m.baseOffset!))),
    );
  }
  await Promise.all(sends);
  const read = await reader();
  await waitFor("every record", () => [0, 1, 2].every((p) => read.values(p).length === 20));
  for (const partition of [0, 1, 2]) {
    const expected = Array.from({ length: 30 }, (_, i) => i)
      .filter((i) => i % 3 === partition)
      .flatMap((i) => [`a${i}`, `b${i}`]);
    expect(read.values(partition)).toEqual(expected);
    // Each send's batch starts two records after the one before it.
    expect(offsets[partition]!.map(Number)).toEqual(Array.from({ length: 10 }, (_, n) => 2 * n));
  }
  const first = read.seen.get(0)![0]!;
  expect(first).toEqual({ key: "k0", value: "a0", headers: { "weft-n": "0", "weft-twice": "0" } });
});

it("sends a batch refused for its sequence again once, under a new producer ID, and writes it once", async () => {
  const producer = ours();
  await producer.connect();
  const send = sender(producer, 1);
  await send("before-gap");
  // A gap in the partition's sequence, as after a request that failed for good without being
  // written: the broker refuses the next batch (OUT_OF_ORDER_SEQUENCE_NUMBER).
  const internals = producer as unknown as {
    identity: Promise<{ producerId: string; sequences: Map<string, number> }>;
  };
  const stale = await internals.identity;
  const key = `${topic}\u00001`;
  stale.sequences.set(key, stale.sequences.get(key)! + 5);
  await send("after-gap");
  await send("after-renewal");
  const renewed = await internals.identity;
  expect(renewed.producerId).not.toBe(stale.producerId);
  const read = await reader();
  await waitFor("the record after the renewal", () => read.values(1).includes("after-renewal"));
  const mine = read.values(1).filter((v) => /gap|renewal/.test(v));
  expect(mine).toEqual(["before-gap", "after-gap", "after-renewal"]);
});

it("fails a send the broker refuses for good to its caller alone, and the partition goes on", async () => {
  const producer = ours();
  await producer.connect();
  const send = sender(producer, 0);
  // Over the broker's message.max.bytes (1 MB by default): refused, and not retriable.
  await expect(send("x".repeat(1_500_000))).rejects.toMatchObject({ type: "MESSAGE_TOO_LARGE" });
  // Unhandled rejections surface once the microtasks ran; Jest fails the test on one, as Node
  // ends a role process on one.
  await new Promise((resolve) => setImmediate(resolve));
  await send("after-refusal");
  const read = await reader();
  await waitFor("the record after the refusal", () => read.values(0).includes("after-refusal"));
});

it("sends records without a partition through kafkajs's producer", async () => {
  const producer = ours();
  await producer.connect();
  const meta = await producer.send({ topic, messages: [{ key: "unpartitioned", value: "free" }] });
  expect(meta).toHaveLength(1);
  const read = await reader();
  await waitFor("the record without a partition", () =>
    [0, 1, 2].some((p) => read.values(p).includes("free")),
  );
});

it("is the Weft client's idempotent producer, unless encodedProduce is off", async () => {
  const on = kafkaFor(config);
  const off = createKafka({ ...config, encodedProduce: false }, createLogger("silent"));
  // Told apart by their source: kafkajs's producer's own, or the one handing over to Weft's.
  const connectOf = (k: Kafka, idempotent: boolean) =>
    k.producer({ idempotent }).connect.toString();
  const kafkajs = connectOf(kafka, false);
  expect(connectOf(on, true)).not.toBe(kafkajs);
  expect(connectOf(on, false)).toBe(kafkajs);
  expect(connectOf(off, true)).toBe(kafkajs);
  // And it writes: a command-shaped record through the client's producer.
  const producer = on.producer({ idempotent: true, maxInFlightRequests: 1 });
  opened.push(producer);
  await producer.connect();
  await producer.send({ topic, messages: [{ key: "client", value: "via-client", partition: 2 }] });
  const read = await reader();
  await waitFor("the client's record", () => read.values(2).includes("via-client"));
});
