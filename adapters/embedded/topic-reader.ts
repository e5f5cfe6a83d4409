import type { PortTopicReader, TopicRead, TopicReadOptions } from "../../transport/port";
import { fetchMessages, MAX_FETCH_BYTES } from "./fetch";
import { unknownTopicOrPartition } from "./errors";
import type { EmbeddedLog } from "./log";

/** After `onBatch` threw, its batch comes again this much later. */
const RETRY_MS = 1000;
/** How long a caught-up read waits for a record before it looks again (a close wakes it). */
const IDLE_WAIT_MS = 1000;

/**
 * Reads a topic of the embedded log straight from its partitions: no group, no member. Every
 * record here is committed (a transaction is one append), so a fetch is what a read_committed
 * consumer of Kafka would see; offsets below the low watermark (retention, compaction) are gone
 * and the read goes on from it.
 */
export function embeddedTopicReader(log: EmbeddedLog): PortTopicReader {
  return { follow: (options) => follow(log, options) };
}

function follow(log: EmbeddedLog, options: TopicReadOptions): Promise<TopicRead> {
  const { topic, from, onBatch } = options;
  const count = log.partitionCount(topic);
  if (count === undefined) return Promise.reject(unknownTopicOrPartition(topic));
  const partitions = options.partitions ?? Array.from({ length: count }, (_, p) => p);
  const missing = partitions.find((p) => p < 0 || p >= count);
  if (missing !== undefined) return Promise.reject(unknownTopicOrPartition(topic, missing));
  let closed = false;
  const wakers = new Set<() => void>();

  const read = async (partition: number): Promise<void> => {
    let position =
      from === "beginning"
        ? log.lowWatermark(topic, partition)
        : from === "end"
          ? log.highWatermark(topic, partition)
          : Number(from.get(partition) ?? 0n);
    while (!closed) {
      if (log.highWatermark(topic, partition) <= position) {
        await log.waitForRecords(topic, partition, position, IDLE_WAIT_MS, wakers);
        continue;
      }
      const { messages, end } = fetchMessages(log, topic, partition, position, MAX_FETCH_BYTES);
      try {
        await onBatch({ partition, messages, next: BigInt(end) });
        position = end;
      } catch {
        // As a consumer's failed batch: the same records come again, after a pause.
        await new Promise<void>((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      // A read catching up fetches from disk on the event loop every role shares: let them in.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  const loops = partitions.map((partition) => read(partition));
  return Promise.resolve({
    close: async () => {
      closed = true;
      for (const wake of [...wakers]) wake();
      await Promise.allSettled(loops);
    },
  });
}
