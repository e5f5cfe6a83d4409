import type { WeftConfig } from "../core/config";
import { topics } from "../core/config";
import { backoffMs, type Backoff } from "../core/backoff";
import type { KafkaPort, PortAdmin, PortTopicConfig } from "./port";

/** Runs `work` with a connected admin client, and always disconnects it. */
export async function withAdmin<T>(
  kafka: KafkaPort,
  work: (admin: PortAdmin) => Promise<T>,
): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The replication factor of new topics: as configured, else min(3, brokers in the cluster). */
export async function replicationFactor(admin: PortAdmin, config: WeftConfig): Promise<number> {
  if (config.replicationFactor !== undefined) return config.replicationFactor;
  if (!admin.describeCluster) return 1;
  const { brokers } = await admin.describeCluster();
  return Math.max(1, Math.min(3, brokers.length));
}

/**
 * Creates Weft's topics when missing; never shrinks or alters existing ones. Resolves with
 * the topics it created and their replication factor.
 */
export async function ensureTopics(
  admin: PortAdmin,
  config: WeftConfig,
  taskQueues: readonly string[] = [],
): Promise<{ created: string[]; replicationFactor: number }> {
  const rf = await replicationFactor(admin, config);
  const durable = rf > 1 ? [{ name: "min.insync.replicas", value: "2" }] : [];
  const wanted: PortTopicConfig[] = [
    {
      topic: topics.commands(config),
      numPartitions: config.commandPartitions,
      replicationFactor: rf,
      configEntries: durable,
    },
    {
      topic: topics.history(config),
      numPartitions: config.commandPartitions,
      replicationFactor: rf,
      // The audit log: for ever unless the operator bounds it (deciders never read it back).
      configEntries: [
        { name: "retention.ms", value: String(config.historyRetentionMs) },
        ...durable,
      ],
    },
    {
      topic: topics.changelog(config),
      numPartitions: config.commandPartitions,
      replicationFactor: rf,
      // Compacted: a key's last record stays (an open run's events, a closed run's marker),
      // so the topic, and a decider's restore, follow the open runs, not every run ever.
      // Segments roll every 5 s: only a closed segment is compacted, so what a restore reads
      // beyond the open runs and closed markers is about 5 s of decisions plus the cleaner's
      // lag (the broker's log.cleaner.backoff.ms, 15 s by default). At 15 s, that tail was
      // most of what a restore read after a busy minute.
      // Tombstones (the markers a closed-run snapshot folded in, a closed run's chunks) go
      // 10 s after compaction reached them, not Kafka's default day: each would otherwise
      // be a record every restore reads for a day. A restore that reads a record whose
      // tombstone went meanwhile gets a marker the snapshot holds anyway, or a chunk no run
      // record counts: harmless either way.
      configEntries: [
        { name: "cleanup.policy", value: "compact" },
        { name: "min.cleanable.dirty.ratio", value: "0.1" },
        { name: "segment.ms", value: "5000" },
        { name: "delete.retention.ms", value: "10000" },
        ...durable,
      ],
    },
    { topic: topics.dlq(config), numPartitions: 1, replicationFactor: rf, configEntries: durable },
    // Step logs are not history: deleted after their retention (the read models keep what the
    // projector stored). Keyed by workflow ID like commands, so a run's records stay in order.
    {
      topic: topics.stepLogs(config),
      numPartitions: config.commandPartitions,
      replicationFactor: rf,
      configEntries: [
        { name: "cleanup.policy", value: "delete" },
        { name: "retention.ms", value: String(config.stepLogRetentionMs) },
        ...durable,
      ],
    },
    // One partition keyed by process ID: the projector reads every process's beats in order.
    {
      topic: topics.registrations(config),
      numPartitions: 1,
      replicationFactor: rf,
      configEntries: durable,
    },
    ...taskQueues.map((q) => ({
      topic: topics.tasks(config, q),
      numPartitions: config.taskPartitions,
      replicationFactor: rf,
      configEntries: durable,
    })),
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return { created: [], replicationFactor: rf };
  try {
    await createTopicsWithLeaders(admin, missing);
  } catch (err) {
    // Another process may have created them at the same moment.
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
  return { created: missing.map((t) => t.topic), replicationFactor: rf };
}

/** A broker places new topics within milliseconds, or seconds in its first minute. */
const PLACING: Backoff = { initialMs: 20, maxMs: 500, jitter: 0 };

/** What a broker answers about a topic it has just created and not yet placed. */
const NOT_PLACED_YET = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE"]);

/**
 * Creates topics and resolves once every partition has a leader. kafkajs's own wait
 * (`waitForLeaders`) retries only LEADER_NOT_AVAILABLE; a broker that has accepted the topics
 * but not yet loaded them answers UNKNOWN_TOPIC_OR_PARTITION, which kafkajs gives up on (seen
 * on a broker's first minute), so this waits on both.
 */
export async function createTopicsWithLeaders(
  admin: PortAdmin,
  wanted: PortTopicConfig[],
  timeoutMs = 30_000,
): Promise<boolean> {
  const created = await admin.createTopics({ topics: wanted, waitForLeaders: false });
  const names = wanted.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (let tries = 1; ; tries++) {
    const placed = await admin.fetchTopicMetadata({ topics: names }).then(
      (metadata) => metadata.topics.every((t) => t.partitions.every((p) => p.leader >= 0)),
      (err: unknown) => {
        if (NOT_PLACED_YET.has((err as { type?: string }).type ?? "")) return false;
        throw err;
      },
    );
    if (placed) return created;
    if (Date.now() > deadline)
      throw new Error(`topics ${names.join(", ")} had no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, backoffMs(PLACING, tries)));
  }
}
