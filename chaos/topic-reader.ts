/**
 * Reads every committed record of a topic, from the beginning to the end it had when the read
 * began, with each record's partition, offset and timestamp (read_committed: aborted decisions
 * are never seen). kafkajs has no manual assignment, so a throw-away group does the reading.
 */
import { randomUUID } from "node:crypto";
import type { IHeaders, Kafka } from "kafkajs";

export interface TopicRecord {
  readonly partition: number;
  readonly offset: bigint;
  /** The record's timestamp (the producer's clock when it made the record), ms. */
  readonly timestamp: number;
  readonly value: Buffer | null;
  readonly headers: IHeaders | undefined;
}

export interface ReadResult {
  readonly records: number;
  /** Partitions not read to their end within the time allowed (empty when complete). */
  readonly incomplete: string[];
}

export async function readTopic(
  kafka: Kafka,
  topic: string,
  onRecord: (record: TopicRecord) => void,
  timeoutMs = 120_000,
): Promise<ReadResult> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const targets = new Map<number, bigint>();
  for (const o of ends)
    if (BigInt(o.high) > BigInt(o.low)) targets.set(o.partition, BigInt(o.high));
  if (targets.size === 0) return { records: 0, incomplete: [] };

  const groupId = `${topic}.chaos-reader.${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const position = new Map<number, bigint>();
  let records = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const reached = (p: number) => (position.get(p) ?? 0n) >= targets.get(p)!;
  const advance = (partition: number, next: bigint) => {
    if (next > (position.get(partition) ?? 0n)) position.set(partition, next);
    if ([...targets.keys()].every(reached)) finish();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic && targets.has(payload.partition)) {
      advance(payload.partition, BigInt(payload.lastOffset) + 1n);
    }
  });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: targets.size,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const high = targets.get(batch.partition);
        if (high === undefined) return;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset >= high || offset < (position.get(batch.partition) ?? 0n)) continue;
          records++;
          onRecord({
            partition: batch.partition,
            offset,
            timestamp: Number(message.timestamp),
            value: message.value,
            headers: message.headers,
          });
          position.set(batch.partition, offset + 1n);
        }
        await payload.heartbeat();
      },
    });
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([done, timedOut]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const cleanup = kafka.admin();
    await cleanup
      .connect()
      .then(() => cleanup.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => cleanup.disconnect().catch(() => undefined));
  }
  const incomplete = [...targets.keys()]
    .filter((p) => !reached(p))
    .map((p) => `${topic}[${p}] at ${position.get(p) ?? 0n} of ${targets.get(p)}`);
  return { records, incomplete };
}
