/**
 * kafkajs's cluster (connections to the brokers, metadata, per-broker requests), reached
 * through the client's own factory so that it uses the same brokers, TLS and SASL as the
 * client's producers and consumers. kafkajs 2.2.4 (pinned) keeps the factory behind a symbol;
 * the embedded log has none, and callers fall back to the port's admin there.
 */
import type { KafkaPort } from "../../transport/port";

export interface KafkajsBroker {
  versions?: Record<number, { minVersion: number; maxVersion: number }>;
  connectionPool: { send(request: unknown): Promise<unknown> };
  disconnect?(): Promise<void>;
}

/**
 * One request Weft encoded itself, over the broker's connection. A connection found closed
 * is dropped, as kafkajs's broker does for its own requests, so the next request opens it
 * again.
 */
export async function sendRequest(broker: KafkajsBroker, request: unknown): Promise<unknown> {
  try {
    return await broker.connectionPool.send(request);
  } catch (err) {
    if ((err as Error).name === "KafkaJSConnectionClosedError")
      await broker.disconnect?.().catch(() => undefined);
    throw err;
  }
}

export interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<KafkajsBroker>;
  /** ListOffsets at the cluster's isolation level; fromBeginning false asks for the end. */
  fetchTopicsOffset(
    topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** ListOffsets and Fetch isolation levels, as the Kafka protocol numbers them. */
export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export type CreateCluster = (options: {
  metadataMaxAge?: number;
  allowAutoTopicCreation?: boolean;
  isolationLevel?: number;
}) => KafkajsCluster;

const CREATE_CLUSTER = "private:Kafka:createCluster";

/** The kafkajs client's cluster factory; undefined for a client that has none. */
export function clusterFactory(kafka: KafkaPort): CreateCluster | undefined {
  const own = kafka as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const create = key === undefined ? undefined : own[key];
  return typeof create === "function" ? (create as CreateCluster) : undefined;
}
