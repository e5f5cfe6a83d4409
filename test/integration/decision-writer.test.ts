/**
 * The decision log's writer, on the real broker (Weft's pipelined producer, and kafkajs's own)
 * and on the embedded log: what deciders and triggers commit through. A decision's records,
 * to two topics and several partitions, and its consumed offset become visible together; a
 * decision whose `beforeCommit` throws shows nothing and leaves the offset where it was; a
 * second writer with the same transactional ID fences the first.
 */
import { embeddedDecisionLog } from "../../adapters/embedded/decision-log";
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import type { WeftConfig } from "../../core/config";
import { isFencingError } from "../../transport/fencing";
import { readPartitions } from "../../transport/history-reader";
import type { KafkaPort, PortDecisionLog, PortDecisionWriter } from "../../transport/port";
import { createTopicsWithLeaders, withAdmin } from "../../transport/topics";
import { WrittenEnd } from "../../transport/written-end";
import { openLog, tempDir } from "../embedded/helpers";
import { isolatedConfig, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

interface Setup {
  kafka: KafkaPort;
  log: PortDecisionLog;
  close(): Promise<void>;
}

const setups: Record<string, (config: WeftConfig) => Promise<Setup>> = {
  "Kafka, pipelined producer": (config) => {
    const kafka = kafkaFor(config);
    const log = kafkaDecisionLog(kafka, { ...config, pipelinedCommit: true });
    return Promise.resolve({ kafka, log, close: () => Promise.resolve() });
  },
  "Kafka, kafkajs's producer": (config) => {
    const kafka = kafkaFor(config);
    const log = kafkaDecisionLog(kafka, { ...config, pipelinedCommit: false });
    return Promise.resolve({ kafka, log, close: () => Promise.resolve() });
  },
  "the embedded log": async () => {
    const { dir, cleanup } = tempDir();
    const kafka = await openLog(dir);
    return {
      kafka,
      log: embeddedDecisionLog(kafka),
      close: async () => {
        await kafka.close();
        cleanup();
      },
    };
  },
};

describe.each(Object.keys(setups))("the decision writer on %s", (name) => {
  let config: WeftConfig;
  let setup: Setup;
  let out: string;
  let other: string;
  let source: string;
  let group: string;
  const writers: PortDecisionWriter[] = [];

  beforeEach(async () => {
    config = isolatedConfig();
    setup = await setups[name]!(config);
    out = `${config.topicPrefix}.out`;
    other = `${config.topicPrefix}.other`;
    source = `${config.topicPrefix}.source`;
    group = `${config.topicPrefix}.group`;
    await withAdmin(setup.kafka, (admin) =>
      createTopicsWithLeaders(admin, [
        { topic: out, numPartitions: 3, replicationFactor: 1 },
        { topic: other, numPartitions: 1, replicationFactor: 1 },
        { topic: source, numPartitions: 1, replicationFactor: 1 },
      ]),
    );
  });

  afterEach(async () => {
    for (const writer of writers.splice(0)) await writer.disconnect().catch(() => undefined);
    await setup.close();
  });

  const writer = async (id: string): Promise<PortDecisionWriter> => {
    const made = setup.log.writer(`${config.topicPrefix}.${id}`);
    writers.push(made);
    await made.connect();
    return made;
  };

  /**
   * Waits until every transaction written to these partitions is decided: Kafka's coordinator
   * writes a commit's markers after it answers EndTxn, so a read straight after a commit can
   * stop at a last stable offset before the decision's records.
   */
  const decided = (topic: string, partitions: number[]): Promise<void> =>
    withAdmin(setup.kafka, async (admin) => {
      const end = new WrittenEnd(setup.kafka, topic, () => Promise.resolve(admin));
      try {
        await waitFor(`the transactions on ${topic} to be decided`, async () => {
          const stable = await admin.fetchTopicOffsets(topic);
          for (const partition of partitions) {
            const at = stable.find((o) => o.partition === partition)?.high;
            if (at === undefined || BigInt(at) < (await end.of(partition))) return false;
          }
          return true;
        });
      } finally {
        await end.close();
      }
    });

  /** The committed records of a topic's partitions, as `partition:value`. */
  const committed = async (topic: string, partitions: number[]): Promise<string[]> => {
    await decided(topic, partitions);
    const seen: string[] = [];
    await readPartitions(setup.kafka, topic, partitions, (partition, m) => {
      seen.push(`${partition}:${m.value!.toString()}`);
    });
    return seen.sort();
  };

  const groupOffset = async (): Promise<string | undefined> =>
    withAdmin(setup.kafka, async (admin) => {
      const [entry] = await admin.fetchOffsets({ groupId: group, topics: [source] });
      const offset = entry?.partitions.find((p) => p.partition === 0)?.offset;
      return offset === undefined || offset === "-1" ? undefined : offset;
    });

  const decision = (tag: string, offset: bigint) => ({
    records: [
      {
        topic: out,
        messages: [0, 1, 2, 0].map((partition, i) => ({
          key: `${tag}${i}`,
          value: `${tag}${i}`,
          partition,
        })),
      },
      { topic: other, messages: [{ key: tag, value: `${tag}-other`, partition: 0 }] },
    ],
    consumed: { groupId: group, topic: source, partition: 0, offset },
  });

  it("commits a decision's records and offset together; a decision refused before its commit shows nothing", async () => {
    const first = await writer("w");
    await first.commit(decision("a", 5n));
    await expect(
      first.commit(decision("b", 9n), () => Promise.reject(new Error("revoked"))),
    ).rejects.toThrow("revoked");
    expect(await committed(out, [0, 1, 2])).toEqual(["0:a0", "0:a3", "1:a1", "2:a2"]);
    expect(await committed(other, [0])).toEqual(["0:a-other"]);
    expect(await groupOffset()).toBe("5");

    // The next owner fences the first, then goes on from what was committed.
    const next = await writer("w");
    await next.commit(decision("c", 7n));
    expect(await committed(out, [0, 1, 2])).toEqual([
      "0:a0",
      "0:a3",
      "0:c0",
      "0:c3",
      "1:a1",
      "1:c1",
      "2:a2",
      "2:c2",
    ]);
    expect(await groupOffset()).toBe("7");
  });

  it("a newer writer with the same ID fences the older one", async () => {
    const older = await writer("fenced");
    await older.commit(decision("x", 1n));
    await writer("fenced");
    const failed = await older.commit(decision("y", 2n)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeDefined();
    expect(isFencingError(failed) || (failed as Error).name === "ProducerUnusableError").toBe(true);
    expect(await committed(other, [0])).toEqual(["0:x-other"]);
    expect(await groupOffset()).toBe("1");
  });
});
