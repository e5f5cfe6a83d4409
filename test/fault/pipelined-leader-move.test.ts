/**
 * The deciders' pipelined producer on Kafka's second transaction protocol, while a partition's
 * leader moves, on the three-broker cluster: its leader is killed with kill -9 (the produce
 * meets a dead connection), then comes back and takes the leadership again (the produce, sent
 * where the producer last saw the leader, is answered NOT_LEADER_OR_FOLLOWER with the new
 * leader in the response's tagged fields, before the answer for the partition the broker still
 * leads). Each time the commit goes on to the new leader and succeeds: the same producer
 * commits every transaction, and a read_committed reader sees each record once, in order.
 * Weft's idempotent producer (commands, step reports) sends on across a killed leader too:
 * every record it acknowledged is there once, in the order sent to its partition.
 */
import type { Consumer, Kafka } from "kafkajs";
import { encodedProducer } from "../../adapters/kafka/encoded-producer";
import { pipelinedProducer } from "../../adapters/kafka/pipelined-transactions";
import type { PortProducer, PortTransactionalProducer } from "../../transport/port";
import { withAdmin } from "../../transport/topics";
import { readPartitions } from "../support/partition-reader";
import {
  brokerKill,
  brokerStart,
  CLUSTER_BROKERS,
  clusterDown,
  clusterUp,
  electPreferred,
  leaderOf,
} from "../support/cluster";
import { isolatedConfig, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const HOOK_TIMEOUT_MS = 240_000;

const config = isolatedConfig({ kafkaBrokers: CLUSTER_BROKERS, replicationFactor: 3 });
const topic = `${config.topicPrefix}.moving`;
const encodedTopic = `${config.topicPrefix}.encoded`;
let kafka: Kafka;
let producer: PortTransactionalProducer | undefined;
let sender: PortProducer | undefined;
let reader: Consumer | undefined;
const readers: Consumer[] = [];
let killed: number | undefined;

beforeAll(async () => {
  clusterUp();
  kafka = kafkaFor(config);
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 3, replicationFactor: 3 },
        { topic: encodedTopic, numPartitions: 3, replicationFactor: 3 },
      ],
    }),
  );
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  try {
    if (killed !== undefined) brokerStart(killed);
    await reader?.disconnect();
    await Promise.all(readers.map((r) => r.disconnect()));
    await producer?.disconnect();
    await sender?.disconnect();
  } finally {
    clusterDown();
  }
}, HOOK_TIMEOUT_MS);

/** A record to each partition, partition 0's first in the produce request to its leader. */
async function commit(value: string): Promise<void> {
  const tx = await producer!.transaction();
  for (const partition of [0, 1, 2])
    await tx.sendBatch({ topicMessages: [{ topic, messages: [{ value, partition }] }] });
  await tx.commit();
}

it(
  "commits on across a killed leader and a leadership moved back, with the same producer",
  async () => {
    producer = pipelinedProducer(kafka, {
      transactionalId: `${config.topicPrefix}.writer`,
      transactionTimeout: 60_000,
      transactionVersion: 2,
    });
    await producer!.connect();
    await commit("one");

    const first = await leaderOf(kafka, topic, 0);
    expect(first).toBeDefined();
    brokerKill(first!);
    killed = first;
    await commit("two");

    brokerStart(first!);
    killed = undefined;
    // The partition's preferred replica is its first leader: the election gives it back.
    await waitFor(
      "the first leader back in the partition's in-sync replicas",
      async () => {
        try {
          electPreferred(topic, 0);
        } catch {
          return false; // not in sync yet
        }
        return (await leaderOf(kafka, topic, 0)) === first;
      },
      120_000,
      1000,
    );
    // The producer still sends to the leader it last saw, which answers NOT_LEADER_OR_FOLLOWER.
    await commit("three");
    await commit("four");

    const read = await readPartitions(kafka, `${config.topicPrefix}.reader`, topic);
    reader = read.consumer;
    try {
      await waitFor("every committed record", () => read.count() >= 12, 60_000);
      for (const partition of [0, 1, 2])
        expect(read.values(partition)).toEqual(["one", "two", "three", "four"]);
    } finally {
      // Gone before the next case kills a broker: a consumer that meets the kill restarts
      // itself, and would heartbeat on after the file's teardown.
      await reader?.disconnect();
      reader = undefined;
    }
  },
  HOOK_TIMEOUT_MS,
);

it(
  "sends on across a killed leader with Weft's idempotent producer, each acknowledged record once and in order",
  async () => {
    const encoded = encodedProducer(kafka, kafka.producer({ idempotent: true }));
    if (!encoded) throw new Error("kafkajs's cluster factory is not reachable");
    sender = encoded;
    await encoded.connect();
    const acknowledged: string[][] = [[], [], []];
    // Each partition's records one request after another, as the command producer sends them.
    const send = async (n: number) => {
      await Promise.all(
        [0, 1, 2].map(async (partition) => {
          const value = `e${n}`;
          await encoded.sendBatch({
            topicMessages: [{ topic: encodedTopic, messages: [{ value, partition }] }],
          });
          acknowledged[partition]!.push(value);
        }),
      );
    };
    for (let n = 0; n < 5; n++) await send(n);
    const leader = await leaderOf(kafka, encodedTopic, 0);
    expect(leader).toBeDefined();
    brokerKill(leader!);
    killed = leader;
    for (let n = 5; n < 10; n++) await send(n);
    brokerStart(leader!);
    killed = undefined;

    const read = await readPartitions(kafka, `${config.topicPrefix}.encoded-reader`, encodedTopic);
    readers.push(read.consumer);
    try {
      await waitFor("every acknowledged record", () => read.count() >= 30, 60_000);
      const expected = Array.from({ length: 10 }, (_, n) => `e${n}`);
      for (const partition of [0, 1, 2]) {
        expect(acknowledged[partition]).toEqual(expected);
        expect(read.values(partition)).toEqual(expected);
      }
    } finally {
      await read.consumer.disconnect();
      readers.splice(readers.indexOf(read.consumer), 1);
    }
  },
  HOOK_TIMEOUT_MS,
);
