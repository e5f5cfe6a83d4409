import type { Consumer, Kafka } from "kafkajs";

/** A record as a test reads it back: key, value and headers as text. */
export interface ReadRecord {
  key: string | undefined;
  value: string;
  headers: Record<string, string>;
}

export interface PartitionReader {
  consumer: Consumer;
  /** Every record read so far, per partition, in order. */
  seen: Map<number, ReadRecord[]>;
  /** The values read so far from one partition, in order. */
  values(partition: number): string[];
  /** How many records were read so far, all partitions together. */
  count(): number;
}

/**
 * Reads `topic` from the beginning into memory, per partition, as a consumer of its own group
 * (read_committed, as kafkajs's consumers are by default). The caller disconnects `consumer`.
 */
export async function readPartitions(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<PartitionReader> {
  const seen = new Map<number, ReadRecord[]>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
      );
      seen.set(partition, [
        ...(seen.get(partition) ?? []),
        { key: message.key?.toString(), value: message.value!.toString(), headers },
      ]);
      return Promise.resolve();
    },
  });
  return {
    consumer,
    seen,
    values: (partition) => (seen.get(partition) ?? []).map((r) => r.value),
    count: () => [...seen.values()].reduce((n, records) => n + records.length, 0),
  };
}
