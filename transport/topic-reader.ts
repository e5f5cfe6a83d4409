import { randomUUID } from "node:crypto";
import type { KafkaPort, PortConsumer, PortTopicReader, TopicRead, TopicReadOptions } from "./port";
import { withAdmin } from "./topics";

/** The log's own reader where it has one, else a reader through a throw-away consumer group. */
export function topicReader(kafka: KafkaPort): PortTopicReader {
  return kafka.topicReader?.() ?? { follow: (options) => followThroughGroup(kafka, options) };
}

/**
 * kafkajs has no manual assignment: a consumer of a group of its own, which commits nothing,
 * reads the topic. Each join (its first, and after any restart of the consumer) seeks every
 * partition to where the read stands, so a restart neither reads a partition again nor skips
 * what came meanwhile; partitions not asked for are paused.
 */
async function followThroughGroup(kafka: KafkaPort, options: TopicReadOptions): Promise<TopicRead> {
  const { topic, onBatch } = options;
  const wanted = options.partitions && new Set(options.partitions);
  const position = new Map<number, bigint>();
  if (options.from === "end") {
    const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
    for (const o of ends) position.set(o.partition, BigInt(o.high));
  } else if (options.from !== "beginning") {
    for (const [partition, offset] of options.from) position.set(partition, offset);
  }
  const advance = (partition: number, next: bigint): boolean => {
    if (next <= (position.get(partition) ?? -1n)) return false;
    position.set(partition, next);
    return true;
  };

  const groupId = `${topic}.reader.${randomUUID()}`;
  const consumer = readerConsumer(kafka, groupId);
  const skip = (partition: number) => {
    consumer.pause([{ topic, partitions: [partition] }]);
  };
  let joined: () => void = () => undefined;
  const hasJoined = new Promise<void>((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    for (const partition of payload.memberAssignment[topic] ?? []) {
      if (wanted && !wanted.has(partition)) skip(partition);
      const at = position.get(partition);
      if (at !== undefined) consumer.seek({ topic, partition, offset: at.toString() });
    }
    joined();
  });
  // A fetch of markers or aborted records only reaches no eachBatch: its range still moves
  // the read on (a reader waiting for a partition's end would otherwise wait for ever).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const { partition } = payload;
    if (payload.topic !== topic || (wanted && !wanted.has(partition))) return;
    const next = BigInt(payload.lastOffset) + 1n;
    // Nothing to hand over but the position: a reader that fails on it has nothing to retry.
    if (advance(partition, next))
      Promise.resolve()
        .then(() => onBatch({ partition, messages: [], next }))
        .catch(() => undefined);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: options.from !== "end" });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const { partition } = batch;
        if (wanted && !wanted.has(partition)) {
          skip(partition);
          return;
        }
        const from = position.get(partition) ?? 0n;
        const messages = batch.messages.filter((m) => BigInt(m.offset) >= from);
        const next = BigInt(batch.lastOffset()) + 1n;
        if (!advance(partition, next)) return;
        await onBatch({ partition, messages, next });
      },
    });
    await hasJoined;
  } catch (err) {
    await close(kafka, consumer, groupId);
    throw err;
  }
  return { close: () => close(kafka, consumer, groupId) };
}

function readerConsumer(kafka: KafkaPort, groupId: string): PortConsumer {
  return kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    allowAutoTopicCreation: false,
  });
}

async function close(kafka: KafkaPort, consumer: PortConsumer, groupId: string): Promise<void> {
  await consumer.disconnect();
  await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
}
