import type { PortAdmin } from "./port";

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, on which its default partitioner picks a
 * keyed record's partition), in 32-bit integer arithmetic as Java computes it. kafkajs's own
 * computes the same bits with a 64-bit Long emulation that allocates on every step; a decider
 * hashes every workflow ID it sends a command for, so that cost showed in its profile.
 */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The last one to three bytes, as Java's switch falls through its cases.
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a key: the same as Java's and kafkajs's. */
export function partitionForKey(
  _topic: string,
  key: string | Buffer,
  partitionCount: number,
): number {
  const bytes = typeof key === "string" ? Buffer.from(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitionCount;
}

export async function partitionCount(admin: PortAdmin, topic: string): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const count = topics[0]?.partitions.length ?? 0;
  if (count === 0) throw new Error(`topic ${topic} has no partitions (does it exist?)`);
  return count;
}
