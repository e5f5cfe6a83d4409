import { Partitioners, type PartitionMetadata } from "kafkajs";
import type { PortAdmin } from "./port";

const defaultPartitioner = Partitioners.DefaultPartitioner();

/** The partition Kafka's default (murmur2) partitioner picks for a key: the same as Java's. */
export function partitionForKey(topic: string, key: string, partitionCount: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitionCount }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [],
    isr: [],
  }));
  return defaultPartitioner({ topic, partitionMetadata, message: { key, value: null } });
}

export async function partitionCount(admin: PortAdmin, topic: string): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const count = topics[0]?.partitions.length ?? 0;
  if (count === 0) throw new Error(`topic ${topic} has no partitions (does it exist?)`);
  return count;
}
