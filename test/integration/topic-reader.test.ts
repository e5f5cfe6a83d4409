/**
 * The topic-reader port on both logs: the real broker's (a throw-away consumer group) and the
 * embedded log's own (its partitions read directly). A reader sees committed records only, in
 * order, each once; its position passes transaction markers to the partition's end; it begins
 * where told (first record, end, given offsets), reads only the partitions asked for, follows
 * what is written after it began, and nothing once closed.
 */
import { randomUUID } from "node:crypto";
import { createLogger } from "../../core/logger";
import { createKafka } from "../../adapters/kafka/client";
import { EmbeddedKafka } from "../../adapters/embedded";
import { createTopicsWithLeaders, withAdmin } from "../../transport/topics";
import { topicReader } from "../../transport/topic-reader";
import type { KafkaPort, ReadBatch, TopicRead } from "../../transport/port";
import { isolatedConfig, waitFor } from "../support/env";
import { tempDir } from "../embedded/helpers";

const logger = createLogger("silent");

interface Reading {
  read: TopicRead;
  /** Values read, per partition, in order. */
  values: Map<number, string[]>;
  next: Map<number, bigint>;
}

async function follow(
  kafka: KafkaPort,
  topic: string,
  from: "beginning" | "end" | ReadonlyMap<number, bigint>,
  partitions?: number[],
): Promise<Reading> {
  const values = new Map<number, string[]>();
  const next = new Map<number, bigint>();
  const onBatch = ({ partition, messages, next: to }: ReadBatch) => {
    const list = values.get(partition) ?? [];
    for (const m of messages) list.push(m.value!.toString());
    values.set(partition, list);
    next.set(partition, to);
  };
  const read = await topicReader(kafka).follow({ topic, from, partitions, onBatch });
  return { read, values, next };
}

const valuesOf = (r: Reading, p: number) => r.values.get(p) ?? [];

async function contract(kafka: KafkaPort, prefix: string): Promise<void> {
  const topic = `${prefix}.read`;
  await withAdmin(kafka, (admin) => createTopicsWithLeaders(admin, [{ topic, numPartitions: 3 }]));
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const tx = kafka.producer({
    transactionalId: `${prefix}.tx.${randomUUID()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await plain.connect();
  await tx.connect();
  const send = (partition: number, value: string) =>
    plain.send({ topic, messages: [{ value, partition }] });
  const inTransaction = async (values: string[], commit: boolean) => {
    const t = await tx.transaction();
    await t.send({ topic, messages: values.map((value) => ({ value, partition: 1 })) });
    await (commit ? t.commit() : t.abort());
  };
  const readers: Reading[] = [];
  try {
    await send(0, "a0");
    await send(0, "a1");
    await inTransaction(["t1", "t2"], true);
    await inTransaction(["t3"], true);
    // Last: a fetch that holds only aborted records and markers must still move a read on.
    await inTransaction(["aborted"], false);
    const ends = new Map(
      (await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic))).map((o) => [
        o.partition,
        BigInt(o.high),
      ]),
    );

    const whole = await follow(kafka, topic, "beginning");
    readers.push(whole);
    await waitFor("the whole topic read to its ends", () =>
      [0, 1].every((p) => whole.next.get(p) === ends.get(p)),
    );
    expect(valuesOf(whole, 0)).toEqual(["a0", "a1"]);
    expect(valuesOf(whole, 1)).toEqual(["t1", "t2", "t3"]);
    expect(valuesOf(whole, 2)).toEqual([]);
    // A fetch of aborted records and a marker only, to a reader caught up, moves it on too.
    await inTransaction(["aborted again"], false);
    const [after] = (await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic))).filter(
      (o) => o.partition === 1,
    );
    await waitFor(
      "the read passed the aborted transaction",
      () => whole.next.get(1) === BigInt(after!.high),
    );
    expect(valuesOf(whole, 1)).toEqual(["t1", "t2", "t3"]);

    const fromEnd = await follow(kafka, topic, "end");
    readers.push(fromEnd);
    const fromOffset = await follow(kafka, topic, new Map([[0, 1n]]), [0]);
    readers.push(fromOffset);
    await send(2, "n1");
    await send(0, "n2");
    await send(1, "n3");
    await waitFor(
      "what came after reached every reader",
      () =>
        [whole, fromEnd].every(
          (r) => valuesOf(r, 1).includes("n3") && valuesOf(r, 0).includes("n2"),
        ) && valuesOf(fromOffset, 0).includes("n2"),
    );
    expect(valuesOf(fromEnd, 0)).toEqual(["n2"]);
    expect(valuesOf(fromEnd, 1)).toEqual(["n3"]);
    expect(valuesOf(fromEnd, 2)).toEqual(["n1"]);
    expect(valuesOf(fromOffset, 0)).toEqual(["a1", "n2"]);
    expect(valuesOf(fromOffset, 1)).toEqual([]);
    expect(valuesOf(fromOffset, 2)).toEqual([]);
    expect(valuesOf(whole, 0)).toEqual(["a0", "a1", "n2"]);

    // A closed reader reads nothing more; one still open does.
    await whole.read.close();
    await send(2, "n4");
    await waitFor("the open reader read n4", () => valuesOf(fromEnd, 2).includes("n4"));
    expect(valuesOf(whole, 2)).toEqual(["n1"]);
  } finally {
    for (const r of readers) await r.read.close().catch(() => undefined);
    await plain.disconnect();
    await tx.disconnect();
  }
}

it("on Kafka, a reader reads committed records where it is told, and follows them", async () => {
  const config = isolatedConfig();
  await contract(createKafka(config, logger), config.topicPrefix);
}, 120_000);

it("on the embedded log, a reader reads committed records where it is told, and follows them", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  try {
    await contract(kafka, isolatedConfig().topicPrefix);
  } finally {
    await kafka.close();
    cleanup();
  }
}, 60_000);

it("on the embedded log, a reader of a topic or partition that does not exist is refused", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  try {
    const reader = topicReader(kafka);
    const onBatch = () => undefined;
    await expect(reader.follow({ topic: "nope", from: "beginning", onBatch })).rejects.toThrow(
      "topic nope does not exist",
    );
    await withAdmin(kafka, (admin) =>
      createTopicsWithLeaders(admin, [{ topic: "one", numPartitions: 1 }]),
    );
    await expect(
      reader.follow({ topic: "one", from: "beginning", partitions: [3], onBatch }),
    ).rejects.toThrow("topic one has no partition 3");
  } finally {
    await kafka.close();
    cleanup();
  }
}, 60_000);
