/** The local three-broker Kafka cluster of infra/infra.sh, for broker failover tests. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Kafka } from "kafkajs";

/** From the sources (the tests) or compiled into dist/ (the benchmarks). */
const INFRA = [
  join(__dirname, "..", "..", "infra", "infra.sh"),
  join(__dirname, "..", "..", "..", "infra", "infra.sh"),
].find((path) => existsSync(path))!;

/** infra.sh starts broker N (node.id N) on port CLUSTER_BASE_PORT + N - 1. */
export const CLUSTER_BASE_PORT = Number(process.env.WEFT_CLUSTER_BASE_PORT ?? 29092);
export const CLUSTER_SIZE = 3;
export const CLUSTER_BROKERS = Array.from(
  { length: CLUSTER_SIZE },
  (_, i) => `127.0.0.1:${CLUSTER_BASE_PORT + i}`,
).join(",");

function infra(...args: string[]): string {
  return execFileSync("bash", [INFRA, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 180_000,
  });
}

/** Starts the brokers that are not running (idempotent) and waits until all answer. */
export function clusterUp(): void {
  infra("up", "--cluster");
}

export function clusterDown(): void {
  infra("down", "--cluster");
}

/** kill -9 of broker N. */
export function brokerKill(n: number): void {
  infra("broker-kill", String(n));
}

/** Restarts broker N (no-op when it runs) and waits until it is ready. */
export function brokerStart(n: number): void {
  infra("broker-start", String(n));
}

/** The infra broker number (1..3) of a broker address, from its port. */
export function brokerNumber(port: number): number {
  const n = port - CLUSTER_BASE_PORT + 1;
  if (!Number.isInteger(n) || n < 1 || n > CLUSTER_SIZE)
    throw new Error(`port ${port} is not a cluster broker port`);
  return n;
}

/** Leadership of the cluster's partition back to its preferred replica (fails while it is not in sync). */
export function electPreferred(topic: string, partition: number): void {
  infra("elect-preferred", topic, String(partition));
}

/** The broker (infra number) leading a partition of `topic`, as a fresh client sees it. */
export async function leaderOf(
  kafka: Kafka,
  topic: string,
  partition: number,
): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const nodeId = topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    const broker = brokers.find((b) => b.nodeId === nodeId);
    return broker === undefined ? undefined : brokerNumber(broker.port);
  } finally {
    await admin.disconnect();
  }
}

/** How many partitions of `topic` each broker (by infra number) leads. */
export async function leadersByBroker(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const numberOf = new Map(brokers.map((b) => [b.nodeId, brokerNumber(b.port)]));
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const counts = new Map<number, number>();
    for (let n = 1; n <= CLUSTER_SIZE; n++) counts.set(n, 0);
    for (const p of topics[0]?.partitions ?? []) {
      const n = numberOf.get(p.leader);
      if (n !== undefined) counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    return counts;
  } finally {
    await admin.disconnect();
  }
}

/** Java's String.hashCode, which the broker uses to place transactional IDs and groups. */
function javaHash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The broker (infra number) coordinating each transactional ID: the leader of partition
 * `abs(hash(id)) % 10` of `__transaction_state` (infra.sh sets 10 partitions).
 */
export async function transactionCoordinators(
  kafka: Kafka,
  transactionalIds: readonly string[],
  stateLogPartitions = 10,
): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const numberOf = new Map(brokers.map((b) => [b.nodeId, brokerNumber(b.port)]));
    const { topics } = await admin.fetchTopicMetadata({ topics: ["__transaction_state"] });
    const leaders = new Map((topics[0]?.partitions ?? []).map((p) => [p.partitionId, p.leader]));
    const out = new Map<string, number>();
    for (const id of transactionalIds) {
      const hash = javaHash(id);
      // Kafka's Utils.abs: Math.abs, with Integer.MIN_VALUE mapped to 0.
      const abs = hash === -2147483648 ? 0 : Math.abs(hash);
      const leader = leaders.get(abs % stateLogPartitions);
      const n = leader === undefined ? undefined : numberOf.get(leader);
      if (n !== undefined) out.set(id, n);
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}
