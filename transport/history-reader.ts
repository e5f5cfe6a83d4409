import type { KafkaPort, PortConsumedMessage } from "./port";
import type { Logger } from "../core/logger";
import { historyCodec } from "../schemas/codec";
import { withAdmin } from "./topics";
import { topicReader } from "./topic-reader";
import type { HistoryEvent } from "../schemas/types";

/**
 * Reads the committed history events of some partitions from the beginning up to the end they
 * had when the read began (read_committed: aborted decisions are never seen). A record that
 * does not decode is logged and skipped.
 */
export function readHistoryPartitions(
  kafka: KafkaPort,
  topic: string,
  partitions: readonly number[],
  onEvent: (partition: number, event: HistoryEvent) => void,
  log: Logger,
  timeoutMs = 60_000,
  /** Give up with ReadStalledError when no record arrives for this long (none: never). */
  stallMs?: number,
): Promise<void> {
  return readPartitions(
    kafka,
    topic,
    partitions,
    (partition, message) => {
      try {
        onEvent(partition, historyCodec.decode(message.value, message.headers));
      } catch (err) {
        log.error({ partition, offset: message.offset, err }, "history record skipped");
      }
    },
    timeoutMs,
    stallMs,
  );
}

/** The partitions among `partitions` that hold records, with their low and high offsets now. */
export async function readableRanges(
  kafka: KafkaPort,
  topic: string,
  partitions: readonly number[],
): Promise<{ partition: number; low: bigint; high: bigint }[]> {
  const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  return offsets
    .filter((o) => partitions.includes(o.partition) && BigInt(o.high) > BigInt(o.low))
    .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
}

/**
 * Reads the committed records of some partitions of a topic from the beginning up to the end
 * they had when the read began (read_committed), through the log's topic reader.
 */
export async function readPartitions(
  kafka: KafkaPort,
  topic: string,
  partitions: readonly number[],
  onMessage: (partition: number, message: PortConsumedMessage) => void,
  timeoutMs = 60_000,
  /** Give up with ReadStalledError when no record arrives for this long (none: never). */
  stallMs?: number,
): Promise<void> {
  const targets = new Map(
    (await readableRanges(kafka, topic, partitions)).map((r) => [r.partition, r.high]),
  );
  if (targets.size === 0) return;

  const position = new Map<number, bigint>();
  /** Batches seen so far, for the stall watch. */
  let delivered = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const read = await topicReader(kafka).follow({
    topic,
    partitions: [...targets.keys()],
    from: "beginning",
    onBatch: ({ partition, messages, next }) => {
      const high = targets.get(partition)!;
      delivered++;
      for (const message of messages)
        if (BigInt(message.offset) < high) onMessage(partition, message);
      position.set(partition, next);
      for (const [p, end] of targets) if ((position.get(p) ?? 0n) < end) return;
      finish();
    },
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    let watch: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`reading ${topic} partitions ${[...targets.keys()].join(",")} timed out`),
          ),
        timeoutMs,
      );
      if (stallMs === undefined) return;
      let seen = -1;
      let since = Date.now();
      watch = setInterval(
        () => {
          const now = Date.now();
          if (delivered !== seen) {
            seen = delivered;
            since = now;
          } else if (now - since >= stallMs) {
            const at = [...targets.keys()].map((p) => `${p}@${position.get(p) ?? 0n}`).join(",");
            reject(new ReadStalledError(topic, at));
          }
        },
        Math.max(10, Math.floor(stallMs / 4)),
      );
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
    }
  } finally {
    await read.close();
  }
}

/**
 * A read that stopped short of the end it aimed at, with fetches answered: what kafkajs does at
 * an empty record batch, which Kafka's compaction leaves where every record of a transaction's
 * batch was superseded (kafkajs neither delivers it nor moves past it).
 */
export class ReadStalledError extends Error {
  constructor(
    readonly topic: string,
    readonly at: string,
  ) {
    super(`reading ${topic} stopped making progress at ${at}`);
    this.name = "ReadStalledError";
  }
}
