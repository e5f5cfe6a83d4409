import { PartitionAssigners } from "kafkajs";
import { assignedPartitions } from "../adapters/kafka/group-assignment";
import { stickyAssigner } from "../adapters/kafka/sticky-assigner";
import { backoffMs, type Backoff } from "../core/backoff";
import type { Logger } from "../core/logger";
import { dependencyOf } from "../core/until-available";
import type {
  KafkaPort,
  OwnershipListener,
  OwnershipOptions,
  PortAdmin,
  PortConsumer,
  PortPartitionOwnership,
} from "./port";

/** The log's own partition ownership where it has one, else one over its consumer groups. */
export function partitionOwnership(
  kafka: KafkaPort,
  options: OwnershipOptions,
): PortPartitionOwnership {
  return kafka.ownership?.(options) ?? new GroupOwnership(kafka, options);
}

/** Consumer restarts after a crash the consumer gave up on: 500 ms doubling to 15 s. */
const RESTART_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, jitter: 0 };
/** Kafka's default `group.min.session.timeout.ms`. */
const BROKER_DEFAULT_MIN_SESSION_MS = 6000;
const MAX_FETCH_WAIT_MS = 100;

/**
 * Partition ownership through a consumer group of the transport port (Kafka's, or the
 * embedded log's): the group deals the topic's partitions, the member fetches those it holds,
 * and every change of assignment reaches the listener. A consumer that crashed for good is
 * replaced, with backoff, until `stopFetching`; its partitions are lost meanwhile.
 */
export class GroupOwnership implements PortPartitionOwnership {
  private consumer: PortConsumer | undefined;
  /** This member's ID in the group's current generation, once it joined. */
  private memberId: string | undefined;
  private listener: OwnershipListener | undefined;
  private admin: Promise<PortAdmin> | undefined;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The session timeout in use: the configured one, unless the broker refused it. */
  private sessionTimeoutMs: number;
  private readonly log: Logger;
  /** The member's wait on /readyz, from a crash until it joins its group again. */
  private readonly waitKey = Symbol("group member");
  private crashes = 0;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly options: OwnershipOptions,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs;
    this.log = options.logger;
  }

  async start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    await this.startConsumer();
  }

  private async startConsumer(): Promise<void> {
    const { groupId, topic } = this.options;
    const listener = this.listener!;
    const consumer = this.kafka.consumer({
      groupId,
      readUncommitted: false,
      sessionTimeout: this.sessionTimeoutMs,
      rebalanceTimeout: this.options.rebalanceTimeoutMs,
      // Several beats per session, so a live member is never taken for dead under load.
      heartbeatInterval:
        this.options.heartbeatIntervalMs ?? Math.max(100, Math.floor(this.sessionTimeoutMs / 6)),
      maxWaitTimeInMs: MAX_FETCH_WAIT_MS,
      maxBytesPerPartition: this.options.fetchMaxBytes,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(!this.stopping) },
      // The sticky assigner: each member keeps or gets the partitions it claims where the
      // group's balance allows (a decider the partitions it owns, a worker beside a decider
      // those that decider writes tasks to); round robin where a member of an older version
      // offers only that.
      partitionAssigners: [
        stickyAssigner(() => ({ [topic]: [...listener.claimed()] })),
        PartitionAssigners.roundRobin,
      ],
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.consumer !== consumer) return;
      this.memberId = payload.memberId;
      this.crashes = 0;
      this.options.waiting?.readiness.clear(this.waitKey);
      listener.assigned(new Set(payload.memberAssignment[topic] ?? []));
    });
    // A fetch of filtered records only (a marker, an aborted transaction) reaches no eachBatch:
    // its range still tells the partition's owner that nothing was skipped there.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (this.consumer !== consumer) return;
      if (payload.batchSize !== 0 || payload.topic !== topic || !payload.firstOffset) return;
      listener.skipped(payload.partition, BigInt(payload.firstOffset), BigInt(payload.lastOffset));
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.consumer !== consumer) return;
      this.showWaiting(payload.error);
      if ((payload.error as { type?: string }).type === "INVALID_SESSION_TIMEOUT") {
        // The broker's group.min.session.timeout.ms is above ours: use Kafka's default floor.
        const fallback = Math.max(this.sessionTimeoutMs * 2, BROKER_DEFAULT_MIN_SESSION_MS);
        this.log.warn(
          { configured: this.sessionTimeoutMs, using: fallback },
          "the broker refused the session timeout (group.min.session.timeout.ms is higher); failover will be slower",
        );
        this.sessionTimeoutMs = fallback;
      } else {
        this.log.error({ err: payload.error, restart: payload.restart }, "consumer crashed");
      }
      // The consumer rejoins by itself unless it gave up: then a new consumer takes its place.
      if (!payload.restart) this.scheduleRestart(consumer);
    });
    try {
      await consumer.connect();
      // A new group reads from the start unless told otherwise: nothing written before its
      // first member is missed.
      await consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.concurrency,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (batch.messages.length === 0 || payload.isStale()) return;
          await listener.fetched({
            partition: batch.partition,
            messages: batch.messages,
            first: BigInt(batch.firstOffset() ?? batch.messages[0]!.offset),
            last: BigInt(batch.lastOffset()),
            end: BigInt(batch.highWatermark),
            isStale: () => payload.isStale() || !payload.isRunning(),
            take: (offset) => payload.resolveOffset(offset),
            heartbeat: () => payload.heartbeat(),
          });
        },
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private scheduleRestart(crashed: PortConsumer): void {
    if (this.stopping || this.restartTimer) return;
    const delay = backoffMs(RESTART_BACKOFF, this.restarts + 1);
    this.restarts++;
    // The group moves our partitions elsewhere while we are gone: nothing of them is ours.
    this.listener?.assigned(new Set());
    this.consumer = undefined;
    void crashed.disconnect().catch(() => undefined);
    this.log.warn({ retryInMs: delay }, "restarting the consumer");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.startConsumer().then(
        () => {
          this.restarts = 0;
          this.log.info("consumer restarted");
        },
        (err) => {
          this.log.warn({ err }, "could not restart the consumer");
          this.scheduleRestart(crashed);
        },
      );
    }, delay);
  }

  stopFetching(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.unlessRestarting("pause the consumer", (consumer) =>
      consumer.pause([{ topic: this.options.topic }]),
    );
  }

  /**
   * kafkajs refuses to pause or resume ("Consumer group was not initialized") from the
   * consumer's creation until it runs, and again while it restarts after a crash. Nothing is
   * fetched then anyway, and a consumer that runs again starts with nothing paused; thrown
   * from a caller's timer, the refusal ended the process (seen in a chaos run).
   */
  private unlessRestarting(what: string, act: (consumer: PortConsumer) => void): void {
    const consumer = this.consumer;
    if (!consumer) return;
    try {
      act(consumer);
    } catch (err) {
      this.log.debug({ err }, `could not ${what}: the consumer is not running`);
    }
  }

  /** Shows the member waiting for the log from a crash until it joins its group again. */
  private showWaiting(error: Error): void {
    const waiting = this.options.waiting;
    if (!waiting || this.stopping) return;
    this.crashes += 1;
    const { readiness } = waiting;
    readiness.wait(this.waitKey, {
      role: waiting.role,
      dependency: dependencyOf(error, "kafka"),
      action: waiting.what,
      since: readiness.get(this.waitKey)?.since ?? Date.now(),
      failures: this.crashes,
      error: error.message,
    });
  }

  async commit(offsets: readonly { partition: number; offset: string }[]): Promise<void> {
    if (!this.consumer) throw new Error("the consumer is not running");
    const { topic } = this.options;
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic, ...o })));
  }

  async leave(): Promise<void> {
    this.stopFetching();
    this.options.waiting?.readiness.clear(this.waitKey);
    await this.consumer?.disconnect();
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }

  committedOffset(partition: number): Promise<bigint | undefined> {
    const { groupId, topic } = this.options;
    return this.withSharedAdmin(async (admin) => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const found = entry?.partitions.find((p) => p.partition === partition);
      return found && BigInt(found.offset) >= 0n ? BigInt(found.offset) : undefined;
    });
  }

  endOffset(partition: number): Promise<bigint> {
    const { topic } = this.options;
    return this.withSharedAdmin(async (admin) => {
      const offsets = await admin.fetchTopicOffsets(topic);
      const found = offsets.find((o) => o.partition === partition);
      if (!found) throw new Error(`no offsets for ${topic} partition ${partition}`);
      return BigInt(found.high);
    });
  }

  holds(partition: number): Promise<boolean> {
    const { groupId, topic } = this.options;
    return this.withSharedAdmin(async (admin) => {
      const memberId = this.memberId;
      // Where the coordinator cannot be asked (embedded mode), the writer's fence decides.
      if (!admin.describeGroups || !memberId) return true;
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups.find((g) => g.groupId === groupId);
      // A rebalance in progress ends with an assignment here that tells (or a revocation).
      if (group?.state !== "Stable") return false;
      const member = group.members.find((m) => m.memberId === memberId);
      if (!member) return false;
      return assignedPartitions(member, topic).includes(partition);
    });
  }

  seek(partition: number, offset: bigint): void {
    if (!this.consumer) throw new Error("the consumer is not running");
    this.consumer.seek({ topic: this.options.topic, partition, offset: offset.toString() });
  }

  pause(partition: number): void {
    this.unlessRestarting(`pause partition ${partition}`, (consumer) =>
      consumer.pause([{ topic: this.options.topic, partitions: [partition] }]),
    );
  }

  resume(partition: number): void {
    this.unlessRestarting(`resume partition ${partition}`, (consumer) =>
      consumer.resume([{ topic: this.options.topic, partitions: [partition] }]),
    );
  }

  /** One admin client for the offset reads; replaced after any error. */
  private async withSharedAdmin<T>(work: (admin: PortAdmin) => Promise<T>): Promise<T> {
    // A partition still opening when its owner stopped must not open a client nobody closes.
    if (this.stopping) throw new Error("the partitions' owner is stopping");
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
    }
    const current = this.admin;
    try {
      return await work(await current);
    } catch (err) {
      if (this.admin === current) this.admin = undefined;
      void current.then((a) => a.disconnect()).catch(() => undefined);
      throw err;
    }
  }
}
