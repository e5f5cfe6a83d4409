import type { KafkaPort, PortAdmin } from "./port";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { Queryable } from "../projections/database";
import { projectorGroup } from "../projections/projector";

/** How far one consumer group is behind on one partition: end offset minus its position. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

export interface ConsumerLagReaderOptions {
  kafka: KafkaPort;
  config: WeftConfig;
  /** The read models: with it, the projector's lag (its offsets live in PostgreSQL). */
  pool?: Queryable;
  logger: Logger;
}

/** Scrapes and stats that arrive within this long of a snapshot share it. */
const CACHE_MS = 1000;

/**
 * Consumer lag of Weft's groups: the deciders on `<prefix>.commands`, each queue's workers
 * (`<prefix>.workers.<queue>`) on `<prefix>.tasks.<queue>` (queues found by listing topics),
 * and, given a pool, the projector (`<prefix>.projector`) on `<prefix>.history`, whose
 * positions are the offsets it stores in `weft_projector_offsets` (it never commits to Kafka).
 *
 * A group with no position on a partition lags by everything the partition holds. One admin
 * client for the reader's life; a snapshot is reused for a second, and concurrent callers
 * share the one in flight.
 */
export class ConsumerLagReader {
  private readonly admin: PortAdmin;
  private readonly log: Logger;
  private connecting: Promise<void> | undefined;
  private cached: { at: number; lags: Promise<PartitionLag[]> } | undefined;
  private closed = false;

  constructor(private readonly options: ConsumerLagReaderOptions) {
    this.admin = options.kafka.admin();
    this.log = options.logger.child({ component: "consumer-lag" });
  }

  snapshot(): Promise<PartitionLag[]> {
    if (this.closed) return Promise.reject(new Error("the consumer lag reader is closed"));
    const now = Date.now();
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached.lags;
    const lags = this.read();
    const entry = { at: now, lags };
    this.cached = entry;
    // A failed read is not reused: the next caller tries again.
    lags.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return lags;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await this.admin.disconnect();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.admin.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async read(): Promise<PartitionLag[]> {
    await this.connect();
    const { config } = this.options;
    const taskPrefix = topics.tasks(config, "");
    const queues = (await this.admin.listTopics())
      .filter((t) => t.startsWith(taskPrefix) && t.length > taskPrefix.length)
      .map((t) => t.slice(taskPrefix.length))
      .sort();
    const reads: Array<Promise<PartitionLag[]>> = [
      this.kafkaGroupLag(topics.deciderGroup(config), topics.commands(config)),
      ...queues.map((q) =>
        this.kafkaGroupLag(topics.workerGroup(config, q), topics.tasks(config, q)),
      ),
    ];
    if (this.options.pool) reads.push(this.projectorLag(this.options.pool));
    return (await Promise.all(reads)).flat();
  }

  /** A group that commits its offsets to Kafka. */
  private async kafkaGroupLag(group: string, topic: string): Promise<PartitionLag[]> {
    const [ends, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.admin.fetchOffsets({ groupId: group, topics: [topic] }),
    ]);
    const positions = new Map<number, string>();
    for (const p of committed.find((c) => c.topic === topic)?.partitions ?? []) {
      positions.set(p.partition, p.offset);
    }
    return lagsOf(group, topic, ends, positions);
  }

  /** The projector: its positions are rows of weft_projector_offsets, not Kafka commits. */
  private async projectorLag(pool: Queryable): Promise<PartitionLag[]> {
    const { config } = this.options;
    const group = projectorGroup(config);
    const topic = topics.history(config);
    const [ends, stored] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      pool
        .query<{ partition: number; next_offset: string }>(
          `SELECT partition, next_offset FROM weft_projector_offsets
            WHERE consumer_group = $1 AND topic = $2`,
          [group, topic],
        )
        .then(
          ({ rows }) => rows,
          (err: unknown) => {
            // Not migrated yet, or PostgreSQL is down: the Kafka groups are still worth reporting.
            this.log.warn({ err }, "could not read the projector's offsets; its lag is left out");
            return undefined;
          },
        ),
    ]);
    if (!stored) return [];
    const positions = new Map(stored.map((r) => [Number(r.partition), String(r.next_offset)]));
    return lagsOf(group, topic, ends, positions);
  }
}

/** The lag of `group` on each partition of `topic`, given its positions by partition. */
function lagsOf(
  group: string,
  topic: string,
  ends: readonly { partition: number; high: string; low: string }[],
  positions: ReadonlyMap<number, string>,
): PartitionLag[] {
  return ends.map((end) => ({
    group,
    topic,
    partition: end.partition,
    lag: lagOf(end, positions.get(end.partition)),
  }));
}

/**
 * End offset minus position; no position (or Kafka's -1) lags by everything from the start of
 * the partition (for history, kept forever, that is its whole end offset).
 */
function lagOf(end: { high: string; low: string }, position: string | undefined): number {
  const high = BigInt(end.high);
  const from = position === undefined || BigInt(position) < 0n ? BigInt(end.low) : BigInt(position);
  const lag = high - from;
  return lag > 0n ? Number(lag) : 0;
}
