/**
 * An empty record batch in a compacted topic, made by the broker's log cleaner, against the
 * real broker: the consumer-group reader (kafkajs) stops at it; the compacted reader reads
 * every live record past it.
 *
 * How the broker is brought to leave one at the end of a segment (what stops kafkajs: a fetch
 * at its offset returns that batch alone, with no record in it):
 * - segment 1: producer B commits live records, then producer A sends keys k0..k2 in a
 *   transaction (batch A1, A's last data batch) and commits only after segment.ms passed, so
 *   that A's commit marker rolls the segment and opens segment 2;
 * - segment 2: B supersedes k0..k2, then fills the segment (1 MiB, segment.bytes' minimum)
 *   with live records, so that it rolls by size and the cleaner cannot merge segments 1 and 2
 *   into one group (it merges consecutive segments that fit in segment.bytes together);
 * - the cleaner then empties A1 (every record superseded) but keeps its header, A being a
 *   producer still active whose last sequence it holds, as the last batch of segment 1.
 */
import { randomBytes } from "node:crypto";
import type { Kafka, Producer } from "kafkajs";
import { BatchFetcher, readCompacted } from "../../adapters/kafka/compacted-reader";
import { readPartitions, ReadStalledError } from "../../transport/history-reader";
import { withAdmin } from "../../transport/topics";
import type { PortConsumedMessage } from "../../transport/port";
import { isolatedConfig, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
/** The topic of the current try (see beforeAll): a layout the broker's timing spoiled is redone. */
let topic = `${config.topicPrefix}.compacted`;
const SEGMENT_MS = 3000;
/** Tries at the layout: under a loaded machine a segment may roll before A1 instead of after it. */
const LAYOUT_TRIES = 4;
const SEGMENT_BYTES = 1 << 20;
let kafka: Kafka;
const producers: Producer[] = [];

const filler = () => randomBytes(512).toString("hex"); // 1 KiB of value

async function transactional(id: string): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId: `${topic}.${id}`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  producers.push(producer);
  await producer.connect();
  return producer;
}

async function commit(
  producer: Producer,
  messages: { key: string; value: string }[],
): Promise<bigint> {
  const tx = await producer.transaction();
  const [meta] = await tx.send({ topic, messages, acks: -1 });
  await tx.commit();
  return BigInt(meta!.baseOffset!);
}

/** What a reader delivered, key by key (each key once: every live record has its own key). */
function byKey(messages: PortConsumedMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of messages) {
    const key = m.key!.toString();
    expect(out.has(key)).toBe(false);
    out.set(key, m.value!.toString());
  }
  return out;
}

/** The live records, key to value, as compaction must leave them. */
const live = new Map<string, string>();
let emptyAt = -1n;
/** Reads the stored batches, to see the broker's layout. */
let fetcher: BatchFetcher | undefined;
/** Every topic a try created, deleted at the end. */
const topics: string[] = [];

async function createTopic(): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: "cleanup.policy", value: "compact" },
            { name: "segment.ms", value: String(SEGMENT_MS) },
            { name: "segment.bytes", value: String(SEGMENT_BYTES) },
            { name: "min.cleanable.dirty.ratio", value: "0.01" },
            { name: "delete.retention.ms", value: "100" },
            { name: "min.compaction.lag.ms", value: "0" },
          ],
        },
      ],
    }),
  );
}

/**
 * Segment 1 as the test needs it, on a fresh topic: B's live records, then A1, whose commit
 * marker (sent once segment.ms has passed) opens segment 2. False when the broker rolled the
 * segment elsewhere (a loaded machine can take segment.ms before A1 is appended).
 */
async function segmentOne(): Promise<Producer | undefined> {
  await createTopic();
  const a = await transactional("a");
  const b = await transactional("b");
  // Segment 1: B's live records, then A1 with its commit held back past segment.ms.
  const early = Array.from({ length: 20 }, (_, i) => ({ key: `early-${i}`, value: filler() }));
  await commit(b, early);
  // Segment 1's age counts from its first batch's timestamp, set before this point.
  const seg1Start = Date.now();
  for (const m of early) live.set(m.key, m.value);
  const txA = await a.transaction();
  const [metaA] = await txA.send({
    topic,
    messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `a-${i}` })),
    acks: -1,
  });
  emptyAt = BigInt(metaA!.baseOffset!);
  // The segment rolls at the first append after segment.ms: A's commit marker.
  await waitFor("segment 1 to be old enough to roll", () => Date.now() - seg1Start > SEGMENT_MS);
  await txA.commit();
  fetcher = new BatchFetcher(kafka, topic);
  await fetcher.connect();
  const segment1Tail = await fetcher.fetch(0, emptyAt, 10);
  // A fetch reads one segment: A1 alone means its marker opened segment 2.
  const [only, ...more] = segment1Tail.batches;
  const alone = only?.baseOffset === emptyAt && only.records.length === 3 && more.length === 0;
  return alone ? b : undefined;
}

beforeAll(async () => {
  kafka = kafkaFor(config);
  const base = topic;
  let b: Producer | undefined;
  for (let tries = 1; !b; tries++) {
    if (tries > LAYOUT_TRIES)
      throw new Error(`the broker rolled segment 1 elsewhere in each of ${LAYOUT_TRIES} tries`);
    topic = `${base}-${tries}`;
    topics.push(topic);
    live.clear();
    await fetcher?.disconnect();
    b = await segmentOne();
  }

  // Segment 2: B supersedes A1's keys, then fills the segment until it rolls by size.
  const superseding = [0, 1, 2].map((i) => ({ key: `k${i}`, value: `b-${i}` }));
  await commit(b, superseding);
  for (const m of superseding) live.set(m.key, m.value);
  // An aborted transaction among them: read_committed never delivers it.
  const c = await transactional("c");
  const txC = await c.transaction();
  await txC.send({ topic, messages: [{ key: "aborted-0", value: "c-0" }], acks: -1 });
  await txC.abort();
  for (let t = 0; t < 12; t++) {
    const batch = Array.from({ length: 100 }, (_, i) => ({
      key: `fill-${t}-${i}`,
      value: filler(),
    }));
    await commit(b, batch);
    for (const m of batch) live.set(m.key, m.value);
  }

  // The cleaner empties A1 and leaves its header as segment 1's last batch: a fetch at its
  // offset returns it alone.
  await waitFor(
    "the log cleaner to empty A's batch",
    async () => {
      const fetched = await fetcher!.fetch(0, emptyAt, 10);
      const [first] = fetched.batches;
      return (
        fetched.batches.length === 1 &&
        first !== undefined &&
        first.baseOffset === emptyAt &&
        first.lastOffset === emptyAt + 2n &&
        !first.control &&
        first.records.length === 0
      );
    },
    90_000,
    250,
  );
}, 150_000);

afterAll(async () => {
  await fetcher?.disconnect();
  await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

it("the consumer-group reader stops at the empty batch, short of records after it", async () => {
  const seen: PortConsumedMessage[] = [];
  const read = readPartitions(kafka, topic, [0], (_, m) => seen.push(m), 60_000, 3000);
  await expect(read).rejects.toBeInstanceOf(ReadStalledError);
  await expect(read).rejects.toThrow(`0@${emptyAt}`);
  // Everything before the empty batch, nothing after it.
  expect([...byKey(seen).keys()].sort()).toEqual(
    [...live.keys()].filter((k) => k.startsWith("early-")).sort(),
  );
});

it("the compacted reader steps over it and reads every live record once", async () => {
  const seen: PortConsumedMessage[] = [];
  await readCompacted(kafka, topic, [0], (_, m) => seen.push(m), 60_000, 3000);
  expect(byKey(seen)).toEqual(live);
});
