/**
 * The embedded log behind the transport port: records, transactions, fencing, groups, offsets,
 * seek, pause, durability across close and torn writes. No broker, no Redis.
 */
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import type { Kafka } from "kafkajs";
import { isFencingError } from "../../transport/fencing";
import { partitionForKey } from "../../transport/partitioning";
import { EmbeddedKafka, FIRST_SEGMENT } from "../../adapters/embedded";
import type { KafkaPort, PortAdmin, PortConsumedMessage, PortProducer } from "../../transport/port";
import { waitFor } from "../support/env";
import { collect, openLog, tempDir, values } from "./helpers";

let dir: string;
let cleanup: () => void;
let kafka: EmbeddedKafka;
let admin: PortAdmin;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  kafka = await openLog(dir);
  admin = kafka.admin();
  await admin.createTopics({
    topics: [
      { topic: "t", numPartitions: 4 },
      { topic: "out", numPartitions: 1 },
    ],
  });
});

afterEach(async () => {
  await kafka.close();
  cleanup();
});

async function connected(config: Parameters<EmbeddedKafka["producer"]>[0] = {}) {
  const producer = kafka.producer(config);
  await producer.connect();
  return producer;
}

async function highs(topic: string): Promise<number[]> {
  return (await admin.fetchTopicOffsets(topic)).map((o) => Number(o.high));
}

describe("the port", () => {
  it("is what kafkajs's client implements too", () => {
    const port: KafkaPort = kafka;
    const kafkajs = undefined as unknown as Kafka;
    // Compiles only while Kafka satisfies KafkaPort (see transport/port.ts).
    const alsoPort: KafkaPort | undefined = kafkajs;
    expect(port).toBeDefined();
    expect(alsoPort).toBeUndefined();
  });
});

describe("records", () => {
  it("appends to the given partition and reads back key, value, headers and offsets", async () => {
    const producer = await connected();
    await producer.send({
      topic: "t",
      messages: [
        { key: "a", value: "one", partition: 2, headers: { h: "x", multi: ["1", "2"] } },
        { key: Buffer.from("b"), value: Buffer.from("two"), partition: 2 },
      ],
    });
    expect(await highs("t")).toEqual([0, 0, 2, 0]);
    const c = await collect(kafka, "t", "g");
    await waitFor("two messages", () => c.messages.length === 2);
    const [first, second] = c.messages;
    expect(first).toMatchObject({ partition: 2, offset: "0", key: Buffer.from("a") });
    expect(first!.value!.toString()).toBe("one");
    expect(first!.headers!.h).toEqual(Buffer.from("x"));
    expect(first!.headers!.multi).toEqual([Buffer.from("1"), Buffer.from("2")]);
    expect(second).toMatchObject({ offset: "1" });
    expect(Number(first!.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("picks the partition of a key as kafkajs's default partitioner does", async () => {
    const producer = await connected();
    const keys = ["run-1", "run-2", "run-3", "run-4", "run-5", "run-6"];
    await producer.send({ topic: "t", messages: keys.map((key) => ({ key, value: key })) });
    const c = await collect(kafka, "t", "g");
    await waitFor("all", () => c.messages.length === keys.length);
    for (const m of c.messages)
      expect(m.partition).toBe(partitionForKey("t", m.key!.toString(), 4));
  });

  it("refuses unknown topics and partitions", async () => {
    const producer = await connected();
    await expect(producer.send({ topic: "nope", messages: [{ value: "x" }] })).rejects.toThrow(
      /UNKNOWN_TOPIC_OR_PARTITION/,
    );
    await expect(
      producer.send({ topic: "t", messages: [{ value: "x", partition: 9 }] }),
    ).rejects.toThrow(/no partition 9/);
    await expect(admin.fetchTopicMetadata({ topics: ["nope"] })).rejects.toThrow(/nope/);
  });
});

describe("transactions", () => {
  it("keeps an open transaction invisible and commits records with offsets at once", async () => {
    const producer = await connected({ transactionalId: "tx" });
    const c = await collect(kafka, "out", "reader");
    const tx = await producer.transaction();
    await tx.send({ topic: "out", messages: [{ value: "a" }, { value: "b" }] });
    await tx.sendOffsets({
      consumerGroupId: "deciders",
      topics: [{ topic: "t", partitions: [{ partition: 1, offset: "7" }] }],
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(c.messages).toHaveLength(0);
    expect(await highs("out")).toEqual([0]);
    const before = await admin.fetchOffsets({ groupId: "deciders", topics: ["t"] });
    expect(before[0]!.partitions[1]!.offset).toBe("-1");

    await tx.commit();
    await waitFor("committed records", () => c.messages.length === 2);
    const after = await admin.fetchOffsets({ groupId: "deciders", topics: ["t"] });
    expect(after[0]!.partitions[1]!.offset).toBe("7");
  });

  it("never delivers an aborted transaction's records", async () => {
    const producer = await connected({ transactionalId: "tx" });
    const aborted = await producer.transaction();
    await aborted.send({ topic: "out", messages: [{ value: "aborted" }] });
    await aborted.abort();
    const ok = await producer.transaction();
    await ok.send({ topic: "out", messages: [{ value: "kept" }] });
    await ok.commit();
    const c = await collect(kafka, "out", "reader");
    await waitFor("kept", () => c.messages.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(values(c.messages)).toEqual(["kept"]);
  });

  it("allows one open transaction per producer, and no plain send when transactional", async () => {
    const producer = await connected({ transactionalId: "tx" });
    await producer.transaction();
    await expect(producer.transaction()).rejects.toThrow(/ongoing transaction/);
    await expect(producer.send({ topic: "out", messages: [{ value: "x" }] })).rejects.toThrow(
      /inside a transaction/,
    );
  });

  it("fences the older producer of a transactional ID", async () => {
    const zombie = await connected({ transactionalId: "decider.p0" });
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic: "out", messages: [{ value: "zombie" }] });

    const owner = await connected({ transactionalId: "decider.p0" });
    const ownerTx = await owner.transaction();
    await ownerTx.send({ topic: "out", messages: [{ value: "owner" }] });

    const commit = zombieTx.commit();
    await expect(commit).rejects.toThrow(/PRODUCER_FENCED/);
    expect(isFencingError(await commit.catch((e: unknown) => e))).toBe(true);
    const later = await zombie
      .transaction()
      .then((tx) => tx.send({ topic: "out", messages: [{ value: "z" }] }))
      .catch((e: unknown) => e);
    expect(isFencingError(later)).toBe(true);
    await ownerTx.commit();
    const c = await collect(kafka, "out", "reader");
    await waitFor("owner's record", () => c.messages.length === 1);
    expect(values(c.messages)).toEqual(["owner"]);
  });
});

describe("consumer groups", () => {
  it("spreads partitions over members and rebalances on join and leave", async () => {
    const a = await collect(kafka, "t", "g");
    expect(a.joins.at(-1)!.memberAssignment).toEqual({ t: [0, 1, 2, 3] });
    const b = await collect(kafka, "t", "g");
    const assigned = [
      ...a.joins.at(-1)!.memberAssignment.t!,
      ...b.joins.at(-1)!.memberAssignment.t!,
    ];
    expect(assigned.sort()).toEqual([0, 1, 2, 3]);
    expect(a.joins.at(-1)!.memberAssignment.t).toHaveLength(2);
    await b.consumer.disconnect();
    await waitFor("a owns all again", () => a.joins.at(-1)!.memberAssignment.t!.length === 4);
    await a.consumer.disconnect();
  });

  it("starts each member at its group's committed offset", async () => {
    const producer = await connected();
    await producer.send({
      topic: "out",
      messages: ["a", "b", "c"].map((value) => ({ value })),
    });
    const consumer = kafka.consumer({ groupId: "g", maxWaitTimeInMs: 20 });
    await consumer.subscribe({ topic: "out", fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        payload.resolveOffset(payload.batch.messages[0]!.offset);
        await consumer.commitOffsets([{ topic: "out", partition: 0, offset: "1" }]);
      },
    });
    await waitFor("commit", async () => {
      const [o] = await admin.fetchOffsets({ groupId: "g", topics: ["out"] });
      return o!.partitions[0]!.offset === "1";
    });
    await consumer.disconnect();
    const again = await collect(kafka, "out", "g", { autoCommit: false });
    await waitFor("the rest", () => again.messages.length === 2);
    expect(values(again.messages)).toEqual(["b", "c"]);
  });

  it("re-fetches what eachBatch did not resolve, and seeks", async () => {
    const producer = await connected();
    await producer.send({ topic: "out", messages: ["a", "b", "c"].map((value) => ({ value })) });
    const seen: string[] = [];
    let seeked = false;
    let staleAfterSeek: boolean | undefined;
    const consumer = kafka.consumer({ groupId: "g", maxWaitTimeInMs: 20 });
    await consumer.subscribe({ topic: "out", fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        seen.push(batch.messages.map((m) => m.value!.toString()).join(""));
        if (seen.length === 1) {
          payload.resolveOffset("0"); // next fetch starts at 1
        } else if (!seeked) {
          seeked = true;
          consumer.seek({ topic: "out", partition: 0, offset: "2" });
          staleAfterSeek = payload.isStale();
          payload.resolveOffset(batch.lastOffset()); // ignored: the batch is stale
        } else {
          payload.resolveOffset(batch.lastOffset());
        }
        await Promise.resolve();
      },
    });
    await waitFor("three batches", () => seen.length >= 3);
    expect(seen.slice(0, 3)).toEqual(["abc", "bc", "c"]);
    expect(staleAfterSeek).toBe(true);
    await consumer.disconnect();
  });

  it("pauses and resumes partitions", async () => {
    const producer = await connected();
    const c = await collect(kafka, "out", "g");
    c.consumer.pause([{ topic: "out" }]);
    await producer.send({ topic: "out", messages: [{ value: "x" }] });
    await new Promise((r) => setTimeout(r, 150));
    expect(c.messages).toHaveLength(0);
    c.consumer.resume([{ topic: "out" }]);
    await waitFor("resumed", () => c.messages.length === 1);
  });

  it("reports a throwing eachBatch as a crash and delivers the batch again", async () => {
    const producer = await connected();
    await producer.send({ topic: "out", messages: [{ value: "x" }] });
    const consumer = kafka.consumer({ groupId: "g", maxWaitTimeInMs: 20 });
    const crashes: unknown[] = [];
    consumer.on(consumer.events.CRASH, ({ payload }) => crashes.push(payload.error));
    let calls = 0;
    await consumer.subscribe({ topic: "out", fromBeginning: true });
    await consumer.run({
      eachBatch: async () => {
        calls++;
        await Promise.resolve();
        if (calls === 1) throw new Error("boom");
      },
    });
    await waitFor("second delivery", () => calls === 2, 5000);
    expect(crashes).toHaveLength(1);
    await consumer.disconnect();
  });
});

describe("compacted topics", () => {
  it("keep each key's last record only, drop tombstoned keys, and do so again on reopen", async () => {
    await admin.createTopics({
      topics: [
        {
          topic: "state",
          numPartitions: 1,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
    });
    const producer = await connected();
    await producer.send({
      topic: "state",
      messages: [
        { key: "a", value: "a1" },
        { key: "b", value: "b1" },
        { key: "a", value: "a2" },
        { key: "c", value: "c1" },
        { key: "b", value: null },
        { value: "no key" },
      ],
    });
    const live = (messages: readonly PortConsumedMessage[]) =>
      values(messages.filter((m) => m.value !== null));
    const first = await collect(kafka, "state", "g1");
    await waitFor("the last offset", () => first.messages.at(-1)?.offset === "5");
    // Offsets stay where they were and the records superseded are skipped, as a fetch from
    // Kafka skips what compaction removed.
    expect(first.messages.map((m) => [m.offset, m.value?.toString() ?? null])).toEqual([
      ["2", "a2"],
      ["3", "c1"],
      ["5", "no key"],
    ]);
    expect(live(first.messages)).toEqual(["a2", "c1", "no key"]);
    await first.consumer.disconnect();
    await kafka.close();
    kafka = await openLog(dir);
    admin = kafka.admin();
    const again = await collect(kafka, "state", "g2");
    await waitFor("the last offset", () => again.messages.at(-1)?.offset === "5");
    expect(live(again.messages)).toEqual(["a2", "c1", "no key"]);
    await again.consumer.disconnect();
  });

  it("cost a fetch their live records, not every record the key ever had", async () => {
    await admin.createTopics({
      topics: [
        {
          topic: "state",
          numPartitions: 1,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
    });
    const ends: string[] = [];
    const offsets: string[] = [];
    let batches = 0;
    const consumer = kafka.consumer({ groupId: "gaps" });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => ends.push(payload.lastOffset));
    await consumer.connect();
    await consumer.subscribe({ topic: "state", fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        batches++;
        offsets.push(...batch.messages.map((m) => m.offset));
        await Promise.resolve();
      },
    });
    const producer = await connected();
    await producer.send({ topic: "state", messages: [{ key: "kept", value: "kept" }] });
    await waitFor("the live record", () => offsets.length === 1);

    const updates = 5000;
    await producer.send({
      topic: "state",
      messages: [
        ...Array.from({ length: updates }, (_, i) => ({ key: "k", value: `k${i}` })),
        // The key closes with a tombstone: every offset after "kept" is then a gap.
        { key: "k", value: null },
      ],
    });
    const end = updates + 2;
    // The consumer moves past the gaps without an empty batch, as kafkajs does with a fetch
    // whose records were all filtered out, and autoCommit follows.
    await waitFor("the end of the gaps", () => ends.includes(String(end - 1)));
    expect(offsets).toEqual(["0"]);
    expect(batches).toBe(1);
    const [committed] = await admin.fetchOffsets({ groupId: "gaps", topics: ["state"] });
    expect(committed!.partitions[0]!.offset).toBe(String(end));
    await consumer.disconnect();

    // One fetch from the start: the live record, and an end past every gap.
    const fetched = kafka.log.fetch("state", 0, 0, 1024 * 1024);
    expect(fetched.offsets).toEqual([0]);
    expect(fetched.end).toBe(end);
  });

  it("are not what other topics are: every record stays", async () => {
    const producer = await connected();
    await producer.send({
      topic: "out",
      messages: [
        { key: "a", value: "a1" },
        { key: "a", value: "a2" },
      ],
    });
    const c = await collect(kafka, "out", "g");
    await waitFor("both", () => c.messages.length === 2);
    expect(values(c.messages)).toEqual(["a1", "a2"]);
    await c.consumer.disconnect();
  });
});

describe("durability", () => {
  async function writeSome(producer: PortProducer): Promise<void> {
    await producer.send({ topic: "out", messages: [{ value: "1" }, { value: "2" }] });
    const tx = await producer.transaction().catch(() => undefined);
    expect(tx).toBeUndefined();
  }

  it("keeps topics, records and offsets across close and reopen", async () => {
    await writeSome(await connected());
    const c = await collect(kafka, "out", "g");
    await waitFor("both", () => c.messages.length === 2);
    await kafka.close();
    kafka = await openLog(dir);
    admin = kafka.admin();
    expect((await admin.listTopics()).sort()).toEqual(["out", "t"]);
    expect(await highs("t")).toEqual([0, 0, 0, 0]);
    const [o] = await admin.fetchOffsets({ groupId: "g", topics: ["out"] });
    expect(o!.partitions[0]!.offset).toBe("2");
    const producer = await connected();
    await producer.send({ topic: "out", messages: [{ value: "3" }] });
    const again = await collect(kafka, "out", "g");
    await waitFor("the new one", () => again.messages.length === 1);
    expect(again.messages[0]).toMatchObject({ offset: "2" });
  });

  it("drops a torn last frame on open, keeping every whole one and the bytes aside", async () => {
    await writeSome(await connected());
    await kafka.close();
    const file = join(dir, FIRST_SEGMENT);
    const whole = statSync(file).size;
    // A frame cut short: its length, its CRC, the first bytes of its payload.
    appendFileSync(file, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 0x93, 2]));
    const warnings: unknown[] = [];
    kafka = await EmbeddedKafka.open({
      directory: dir,
      logger: { warn: (obj) => warnings.push(obj) },
    });
    admin = kafka.admin();
    expect(await highs("out")).toEqual([2]);
    expect(statSync(file).size).toBe(whole);
    expect(warnings).toHaveLength(1);
    const aside = readdirSync(dir).filter((f) => f.startsWith(`${FIRST_SEGMENT}.tail-`));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!)).length).toBe(10);

    // A frame cut in the middle of its payload: the last send is lost, the first kept.
    const producer = await connected();
    await producer.send({ topic: "out", messages: [{ value: "3" }] });
    await kafka.close();
    truncateSync(file, statSync(file).size - 3);
    kafka = await openLog(dir);
    admin = kafka.admin();
    expect(await highs("out")).toEqual([2]);
  });

  it("lets one process at a time own the directory", async () => {
    await expect(openLog(dir)).rejects.toThrow(/in use by process \d+/);
    await kafka.close();
    kafka = await openLog(dir);
  });

  it("refuses a file that is not a Weft log", async () => {
    await kafka.close();
    const { dir: other, cleanup: clean } = tempDir();
    appendFileSync(join(other, FIRST_SEGMENT), "hello, world");
    await expect(openLog(other)).rejects.toThrow(/not a Weft embedded log/);
    clean();
    kafka = await openLog(dir);
  });
});
