/**
 * The partition-ownership port, as both decision logs give it to a decider: the real broker's
 * consumer group (sticky, checked with the coordinator) and the embedded log's. Two owners of
 * one group split a topic's partitions, each partition to one; records reach only their
 * partition's owner; a seek fetches again; an owner that leaves hands its partitions back.
 */
import { createLogger } from "../../core/logger";
import { Readiness } from "../../core/readiness";
import type { WeftConfig } from "../../core/config";
import { createKafka } from "../../adapters/kafka/client";
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import { embeddedDecisionLog } from "../../adapters/embedded/decision-log";
import { EmbeddedKafka } from "../../adapters/embedded";
import { createTopicsWithLeaders } from "../../transport/topics";
import type {
  KafkaPort,
  OwnershipOptions,
  PortDecisionLog,
  PortPartitionOwnership,
} from "../../transport/port";
import { isolatedConfig, waitFor } from "../support/env";
import { tempDir } from "../embedded/helpers";

const PARTITIONS = 4;
const PER_PARTITION = 2;
const logger = createLogger("silent");

interface Owner {
  ownership: PortPartitionOwnership;
  owned: Set<number>;
  /** "partition:offset" of every record fetched, in order. */
  fetched: string[];
}

const ownershipOptions = (groupId: string, topic: string): OwnershipOptions => ({
  groupId,
  topic,
  sessionTimeoutMs: 6000,
  concurrency: PARTITIONS,
  rebalanceTimeoutMs: 20_000,
  logger,
});

async function startOwner(log: PortDecisionLog, groupId: string, topic: string): Promise<Owner> {
  const ownership = log.ownership(ownershipOptions(groupId, topic));
  const owner: Owner = { ownership, owned: new Set(), fetched: [] };
  await ownership.start({
    assigned: (partitions) => {
      owner.owned = new Set(partitions);
    },
    fetched: (batch) => {
      for (const m of batch.messages) owner.fetched.push(`${batch.partition}:${m.offset}`);
      batch.take(batch.messages[batch.messages.length - 1]!.offset);
      return Promise.resolve();
    },
    skipped: () => undefined,
    claimed: () => [...owner.owned],
  });
  return owner;
}

const all = Array.from({ length: PARTITIONS }, (_, p) => p);
const recordsOf = (partitions: Iterable<number>) =>
  [...partitions].flatMap((p) => Array.from({ length: PER_PARTITION }, (_, o) => `${p}:${o}`));
const sorted = (xs: Iterable<string | number>) => [...xs].map(String).sort();

/** A topic of PARTITIONS partitions for the test, and a group to own it. */
async function ownedTopic(kafka: KafkaPort, config: WeftConfig) {
  const topic = `${config.topicPrefix}.owned`;
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: PARTITIONS }]);
  await admin.disconnect();
  return { topic, groupId: `${config.topicPrefix}.owners` };
}

async function contract(kafka: KafkaPort, log: PortDecisionLog, config: WeftConfig) {
  const { topic, groupId } = await ownedTopic(kafka, config);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic,
    messages: recordsOf(all).map((value) => ({ value, partition: Number(value.split(":")[0]) })),
  });
  await producer.disconnect();

  const a = await startOwner(log, groupId, topic);
  const b = await startOwner(log, groupId, topic).catch(async (err) => {
    await a.ownership.leave();
    throw err;
  });
  try {
    await waitFor("the partitions split", () => {
      const split = [...a.owned, ...b.owned];
      return a.owned.size > 0 && b.owned.size > 0 && sorted(split).join() === sorted(all).join();
    });
    // Whatever each fetched before the split, every record was fetched, and after it each
    // owner fetches only its own partitions: a seek in each of B's partitions comes to B.
    await waitFor("every record fetched", () =>
      recordsOf(all).every((r) => a.fetched.includes(r) || b.fetched.includes(r)),
    );
    for (const p of b.owned) {
      expect(await b.ownership.committedOffset(p)).toBeUndefined();
      expect(await b.ownership.endOffset(p)).toBe(BigInt(PER_PARTITION));
    }
    const aBefore = a.fetched.length;
    const bBefore = b.fetched.length;
    for (const p of b.owned) b.ownership.seek(p, 0n);
    await waitFor("B's partitions fetched again", () =>
      recordsOf(b.owned).every((r) => b.fetched.slice(bBefore).includes(r)),
    );
    expect(b.fetched.slice(bBefore).every((r) => b.owned.has(Number(r.split(":")[0])))).toBe(true);
    expect(a.fetched.slice(aBefore).filter((r) => b.owned.has(Number(r.split(":")[0])))).toEqual(
      [],
    );
    await b.ownership.leave();
    await waitFor("A owns every partition", () => a.owned.size === PARTITIONS);
    return { a };
  } finally {
    await b.ownership.leave().catch(() => undefined);
    await a.ownership.leave();
  }
}

it("on Kafka, two owners split the partitions, and one leaving hands them back", async () => {
  const config = isolatedConfig();
  const kafka = createKafka(config, logger);
  const { a } = await contract(kafka, kafkaDecisionLog(kafka, config), config);
  expect(a.owned.size).toBe(PARTITIONS);
}, 120_000);

it("on Kafka, an owner holds a partition only while the settled group gives it to it", async () => {
  const config = isolatedConfig();
  const kafka = createKafka(config, logger);
  const log = kafkaDecisionLog(kafka, config);
  const { topic, groupId } = await ownedTopic(kafka, config);
  const a = await startOwner(log, groupId, topic);
  const b = await startOwner(log, groupId, topic);
  try {
    await waitFor("the partitions split", () => a.owned.size > 0 && b.owned.size > 0, 60_000);
    const holds = await waitFor("the group settled", async () => {
      const answers = await Promise.all(
        all.map(async (p) => [await a.ownership.holds(p), await b.ownership.holds(p)]),
      );
      return answers.every(([x, y]) => x !== y) && answers;
    });
    all.forEach((p, i) => {
      expect(holds[i]).toEqual([a.owned.has(p), b.owned.has(p)]);
    });
  } finally {
    await b.ownership.leave();
    await a.ownership.leave();
  }
}, 120_000);

it("on the embedded log, two owners split the partitions, and one leaving hands them back", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  try {
    const { a } = await contract(kafka, embeddedDecisionLog(kafka), isolatedConfig());
    expect(a.owned.size).toBe(PARTITIONS);
  } finally {
    await kafka.close();
    cleanup();
  }
}, 60_000);

it("on the embedded log, an owner holds exactly the partitions its group gives it", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  try {
    const log = embeddedDecisionLog(kafka);
    const { topic, groupId } = await ownedTopic(kafka, isolatedConfig());
    const a = await startOwner(log, groupId, topic);
    const b = await startOwner(log, groupId, topic);
    await waitFor("the partitions split", () => a.owned.size > 0 && b.owned.size > 0);
    for (const p of all) {
      expect([await a.ownership.holds(p), await b.ownership.holds(p)]).toEqual([
        a.owned.has(p),
        b.owned.has(p),
      ]);
    }
    await b.ownership.leave();
    await waitFor("A owns every partition", () => a.owned.size === PARTITIONS);
    for (const p of all) expect(await b.ownership.holds(p)).toBe(false);
    for (const p of all) expect(await a.ownership.holds(p)).toBe(true);
    await a.ownership.leave();
    expect(await a.ownership.holds(0)).toBe(false);
  } finally {
    await kafka.close();
    cleanup();
  }
}, 60_000);

it("on Kafka, an owner whose consumer crashed for good gets a new one, shown waiting meanwhile", async () => {
  const config = isolatedConfig();
  const kafka = createKafka(config, logger);
  const { topic, groupId } = await ownedTopic(kafka, config);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, messages: [{ value: "hello", partition: 0 }] });
  await producer.disconnect();
  const readiness = new Readiness();
  const ownership = kafkaDecisionLog(kafka, config).ownership({
    ...ownershipOptions(groupId, topic),
    waiting: { readiness, role: "test", what: "own the test topic" },
  });
  const assignments: number[][] = [];
  const seen: string[] = [];
  const missingAtCrash: string[][] = [];
  let poisoned = false;
  await ownership.start({
    assigned: (partitions) => assignments.push([...partitions].sort()),
    fetched: (batch) => {
      if (!poisoned) {
        poisoned = true;
        // The consumer neither retries nor restarts after an error it is told is not retriable.
        throw Object.assign(new Error("not retriable, on purpose"), { retriable: false });
      }
      for (const m of batch.messages) seen.push(m.value?.toString() ?? "");
      batch.take(batch.messages[batch.messages.length - 1]!.offset);
      return Promise.resolve();
    },
    skipped: () => undefined,
    claimed: () => [],
  });
  try {
    await waitFor("the crash shown", () => {
      const missing = readiness.snapshot().missing;
      if (missing.length > 0) missingAtCrash.push([...missing]);
      return missing.length > 0;
    });
    expect(missingAtCrash[0]).toEqual(["kafka"]);
    await waitFor("the record fetched by the new consumer", () => seen.includes("hello"));
    // Every partition lost at the crash, then owned again by the new consumer.
    expect(assignments).toEqual([all, [], all]);
    expect(readiness.snapshot().waiting).toEqual([]);
  } finally {
    await ownership.leave();
  }
}, 60_000);

it("on Kafka, an owner whose session timeout the broker refuses joins with Kafka's default floor", async () => {
  const config = isolatedConfig();
  const kafka = createKafka(config, logger);
  const { topic, groupId } = await ownedTopic(kafka, config);
  // The test broker allows sessions of 1 s and more (group.min.session.timeout.ms).
  const ownership = kafkaDecisionLog(kafka, config).ownership({
    ...ownershipOptions(groupId, topic),
    sessionTimeoutMs: 500,
  });
  const assignments: number[][] = [];
  await ownership.start({
    assigned: (partitions) => assignments.push([...partitions].sort()),
    fetched: () => Promise.resolve(),
    skipped: () => undefined,
    claimed: () => [],
  });
  try {
    await waitFor("the partitions owned", () => assignments.at(-1)?.length === PARTITIONS);
    // The refused join crashed the consumer (nothing owned); the next one joined.
    expect(assignments).toEqual([[], all]);
  } finally {
    await ownership.leave();
  }
}, 60_000);
