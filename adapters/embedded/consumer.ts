import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type {
  OwnedBatch,
  PortConsumer,
  PortConsumerConfig,
  PortConsumerEvents,
  PortConsumerRunConfig,
  PortEachBatchPayload,
  PortEvent,
  PortTopicPartitionOffset,
  PortTopicPartitions,
} from "../../transport/port";
import { unknownTopicOrPartition } from "./errors";
import { commitOffsets, EmbeddedGroupMember, type GroupCoordinator } from "./group-member";
import type { EmbeddedLog } from "./log";

const EVENTS: PortConsumerEvents = {
  GROUP_JOIN: "consumer.group_join",
  CRASH: "consumer.crash",
  END_BATCH_PROCESS: "consumer.end_batch_process",
};

/** Defaults of kafkajs 2.2.4 where Weft does not set them. */
const DEFAULT_MAX_WAIT_MS = 5000;
const DEFAULT_MAX_BYTES_PER_PARTITION = 1024 * 1024;
const DEFAULT_REBALANCE_TIMEOUT_MS = 60_000;

/**
 * The transport port's consumer on the embedded log, for what speaks kafkajs's shape (tools,
 * tests, and `transport/group-ownership.ts` where a log has no ownership of its own; Weft's
 * roles own the embedded log's partitions through `EmbeddedGroupMember` directly). It is one
 * group member per topic subscribed, whose batches it hands to `eachBatch` with kafkajs's
 * events around them.
 */
export class EmbeddedConsumer implements PortConsumer {
  readonly events = EVENTS;
  private readonly emitter = new EventEmitter();
  private readonly subscribed = new Map<string, { fromBeginning: boolean }>();
  private readonly members = new Map<string, EmbeddedGroupMember>();
  /** Topic → this consumer's partitions of it in the group's current generation. */
  private readonly assignment: { [topic: string]: number[] } = {};
  private readonly memberId = `embedded-${randomUUID()}`;
  private running = false;

  constructor(
    private readonly log: EmbeddedLog,
    private readonly groups: GroupCoordinator,
    private readonly config: PortConsumerConfig,
    private readonly warn: (obj: object, msg: string) => void,
    private readonly onStopped: () => void = () => undefined,
  ) {
    this.emitter.setMaxListeners(0);
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  async disconnect(): Promise<void> {
    await this.stop();
  }

  subscribe(
    subscription:
      { topic: string; fromBeginning?: boolean } | { topics: string[]; fromBeginning?: boolean },
  ): Promise<void> {
    if (this.running)
      return Promise.reject(new Error("subscribe before run: the consumer is running"));
    const topics = "topics" in subscription ? subscription.topics : [subscription.topic];
    for (const topic of topics) {
      if (this.log.partitionCount(topic) === undefined)
        return Promise.reject(unknownTopicOrPartition(topic));
      this.subscribed.set(topic, { fromBeginning: subscription.fromBeginning ?? false });
    }
    return Promise.resolve();
  }

  async run(config: PortConsumerRunConfig = {}): Promise<void> {
    if (this.running) throw new Error("the consumer is already running");
    const eachBatch = config.eachBatch;
    if (!eachBatch) throw new TypeError("run() needs eachBatch");
    this.running = true;
    const run = {
      autoCommit: config.autoCommit ?? true,
      autoResolve: config.eachBatchAutoResolve ?? true,
      eachBatch,
    };
    const started = Date.now();
    await Promise.all(
      [...this.subscribed].map(([topic, { fromBeginning }]) => {
        const member = new EmbeddedGroupMember(this.log, this.groups, {
          groupId: this.config.groupId,
          topic,
          fromBeginning,
          concurrency: config.partitionsConsumedConcurrently ?? 1,
          maxWaitMs: this.config.maxWaitTimeInMs ?? DEFAULT_MAX_WAIT_MS,
          fetchMaxBytes: this.config.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
          rebalanceTimeoutMs: this.config.rebalanceTimeout ?? DEFAULT_REBALANCE_TIMEOUT_MS,
          warn: this.warn,
        });
        this.members.set(topic, member);
        return member.start({
          assigned: (partitions) => {
            this.assignment[topic] = [...partitions];
            this.emit(EVENTS.GROUP_JOIN, {
              duration: Date.now() - started,
              groupId: this.config.groupId,
              isLeader: false,
              leaderId: "",
              groupProtocol: "RoundRobinAssigner",
              memberId: this.memberId,
              memberAssignment: { ...this.assignment },
            });
          },
          fetched: (batch) => this.eachBatch(topic, member, batch, run),
          skipped: (partition, first, last) => {
            if (run.autoCommit)
              this.commitOffsets([{ topic, partition, offset: String(last + 1n) }]).catch(
                (err: unknown) => this.warn({ err, topic, partition }, "an offset commit failed"),
              );
            const high = BigInt(this.log.highWatermark(topic, partition));
            this.endBatch(topic, partition, first, last, high, 0, Date.now());
          },
          claimed: () => [],
        });
      }),
    );
  }

  private async eachBatch(
    topic: string,
    member: EmbeddedGroupMember,
    batch: OwnedBatch,
    run: {
      autoCommit: boolean;
      autoResolve: boolean;
      eachBatch: (payload: PortEachBatchPayload) => Promise<void>;
    },
  ): Promise<void> {
    const started = Date.now();
    const { partition, messages } = batch;
    let resolved: string | undefined;
    const payload: PortEachBatchPayload = {
      batch: {
        topic,
        partition,
        highWatermark: String(batch.end),
        messages,
        isEmpty: () => messages.length === 0,
        firstOffset: () => messages[0]?.offset ?? null,
        lastOffset: () => String(batch.last),
      },
      resolveOffset: (offset) => {
        batch.take(offset);
        if (!batch.isStale()) resolved = offset;
      },
      heartbeat: () => batch.heartbeat(),
      pause: () => {
        member.pause(partition);
        return () => member.resume(partition);
      },
      isRunning: () => this.running,
      isStale: () => batch.isStale(),
    };
    try {
      await run.eachBatch(payload);
    } catch (err) {
      this.emit(EVENTS.CRASH, {
        error: err instanceof Error ? err : new Error(String(err)),
        groupId: this.config.groupId,
        restart: true,
      });
      throw err;
    }
    if (run.autoResolve) payload.resolveOffset(String(batch.last));
    if (run.autoCommit && resolved !== undefined && !batch.isStale())
      await this.commitOffsets([{ topic, partition, offset: String(BigInt(resolved) + 1n) }]);
    this.endBatch(topic, partition, batch.first, batch.last, batch.end, messages.length, started);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // As kafkajs does: finish the batches in hand, then leave (the others get the partitions).
    await Promise.all([...this.members.values()].map((m) => m.leave()));
    this.members.clear();
    this.onStopped();
  }

  commitOffsets(offsets: PortTopicPartitionOffset[]): Promise<void> {
    return commitOffsets(this.log, this.config.groupId, offsets);
  }

  seek({ topic, partition, offset }: PortTopicPartitionOffset): void {
    this.members.get(topic)?.seek(partition, BigInt(offset));
  }

  pause(topics: PortTopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      const member = this.members.get(topic);
      if (!partitions) member?.stopFetching();
      for (const p of partitions ?? []) member?.pause(p);
    }
  }

  resume(topics: PortTopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      const member = this.members.get(topic);
      if (!partitions) {
        member?.resumeFetching();
        for (const p of this.assignment[topic] ?? []) member?.resume(p);
      }
      for (const p of partitions ?? []) member?.resume(p);
    }
  }

  on(eventName: string, listener: (event: PortEvent<never>) => void): () => void {
    this.emitter.on(eventName, listener);
    return () => this.emitter.off(eventName, listener);
  }

  private endBatch(
    topic: string,
    partition: number,
    first: bigint,
    last: bigint,
    high: bigint,
    batchSize: number,
    started: number,
  ): void {
    const lag = (to: bigint) => String(high - 1n - to > 0n ? high - 1n - to : 0n);
    this.emit(EVENTS.END_BATCH_PROCESS, {
      topic,
      partition,
      highWatermark: String(high),
      offsetLag: lag(last),
      offsetLagLow: lag(first),
      batchSize,
      firstOffset: String(first),
      lastOffset: String(last),
      duration: Date.now() - started,
    });
  }

  private emit(type: string, payload: unknown): void {
    const event = { id: randomUUID(), type, timestamp: Date.now(), payload };
    for (const listener of this.emitter.listeners(type)) {
      try {
        (listener as (e: typeof event) => void)(event);
      } catch (err) {
        this.warn({ err, event: type }, "a consumer event listener threw");
      }
    }
  }
}
