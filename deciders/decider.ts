import type { KafkaPort, PortAdmin, PortConsumer, PortDecisionLog } from "../transport/port";
import type { Registry as MetricsRegistry } from "prom-client";
import { backoffMs, type Backoff } from "../core/backoff";
import type { Clock } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import type { FaultSeam } from "../core/fault-points";
import type { Logger } from "../core/logger";
import { PartitionAssigners } from "kafkajs";
import { ensureTopics, withAdmin } from "../transport/topics";
import { assignedPartitions } from "../adapters/kafka/group-assignment";
import { stickyAssigner } from "../adapters/kafka/sticky-assigner";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import type { Command } from "../schemas/types";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import { createDeciderMetrics, type DeciderMetrics } from "./metrics";
import { PartitionOwner, type CommittedWork, type PartitionCursor } from "./partition-owner";
import { DEFAULT_TASK_QUEUE, Registry } from "./registry";

export interface DeciderOptions {
  config: WeftConfig;
  kafka: KafkaPort;
  /** Each partition's atomic commits and changelog read, from the backends. */
  decisionLog: PortDecisionLog;
  logger: Logger;
  workflows: readonly AnyWorkflowDefinition[];
  /** Step definitions whose policies (retry, timeout, queue) the decider should apply. */
  steps?: readonly AnyStepDefinition[];
  metrics?: DeciderMetrics;
  /** Where the decider's metrics go (e.g. the process's registry); default one of its own. */
  metricsRegistry?: MetricsRegistry;
  /** Where decisions read the time and durable timers wait; default the system clock. */
  clock?: Clock;
  /** Named fault points armed by tests; default none. */
  faults?: FaultSeam;
}

/** Consumer restarts after a crash kafkajs gave up on: 500 ms doubling to 15 s. */
const RESTART_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, jitter: 0 };
/** Kafka's default `group.min.session.timeout.ms`. */
const BROKER_DEFAULT_MIN_SESSION_MS = 6000;

/**
 * A member of the `deciders` consumer group over `weft.commands`. Kafka assigns partitions;
 * for each, a PartitionOwner restores the partition's open runs and applies its commands.
 */
export class Decider {
  readonly metrics: DeciderMetrics;
  private readonly registry: Registry;
  private readonly owners = new Map<number, PartitionOwner>();
  private readonly log: Logger;
  private consumer: PortConsumer | undefined;
  /** This decider's member ID in the group's current generation, once it joined. */
  private memberId: string | undefined;
  private readonly groupId: string;
  private readonly commandsTopic: string;
  private readonly taskTopics = new Map<string, Promise<number>>();
  private commandTopicPartitions: Promise<number> | undefined;
  private admin: Promise<PortAdmin> | undefined;
  private stopped = false;
  private tasksCommitted: ((work: CommittedWork) => void) | undefined;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The group session timeout in use: the configured one, unless the broker refused it. */
  private sessionTimeoutMs: number;

  constructor(private readonly options: DeciderOptions) {
    this.registry = new Registry(options.workflows, options.steps);
    const sum = (of: (o: PartitionOwner) => number) =>
      [...this.owners.values()].reduce((total, o) => total + of(o), 0);
    this.metrics =
      options.metrics ??
      createDeciderMetrics(
        {
          openRuns: () => sum((o) => o.openRuns),
          pendingTimers: () => sum((o) => o.pendingTimers),
          notReadySeconds: () =>
            new Map([...this.owners].map(([p, o]) => [p, o.notReadySeconds] as const)),
        },
        options.metricsRegistry,
      );
    this.log = options.logger.child({ role: "decider" });
    this.groupId = topics.deciderGroup(options.config);
    this.commandsTopic = topics.commands(options.config);
    this.sessionTimeoutMs = options.config.deciderSessionTimeoutMs;
  }

  /** Partitions this decider owns right now. */
  get ownedPartitions(): number[] {
    return [...this.owners.keys()].sort((a, b) => a - b);
  }

  /**
   * Hands `command` to this decider when it owns the command's partition, ready: it is
   * decided with the partition's next transaction, without the round trip through
   * `weft.commands`. Resolves true once that transaction committed, false when the command
   * must go through Kafka instead (the partition is elsewhere, not ready, or the commit failed).
   */
  async submit(command: Command): Promise<boolean> {
    if (this.stopped) return false;
    let partitions: number;
    try {
      partitions = await this.commandPartitions();
    } catch {
      return false;
    }
    const partition = partitionForKey(this.commandsTopic, command.workflowId, partitions);
    const owner = this.owners.get(partition);
    return owner ? owner.submit(command) : false;
  }

  /**
   * Where each commit's step tasks go besides their topic: a worker in this process that runs
   * at once those it can (see Worker.offer). Set before the decider starts.
   */
  onTasksCommitted(listener: (work: CommittedWork) => void): void {
    this.tasksCommitted = listener;
  }

  /**
   * Partitions this decider asks the group to leave here: those it owns, but not those whose
   * producer another owner fenced since (a process whose session lapsed rejoins claiming them
   * otherwise, and could win them back from their rightful owner: one more move and restore).
   */
  private get claimedPartitions(): number[] {
    return this.ownedPartitions.filter((p) => !this.owners.get(p)!.fencedSinceOpen);
  }

  /** Partitions owned but not ready (restoring, or reopening after a failure). */
  get partitionsNotReady(): number[] {
    return this.ownedPartitions.filter((p) => !this.owners.get(p)!.isReady);
  }

  async start(): Promise<void> {
    const { kafka, config } = this.options;
    const queues = new Set([DEFAULT_TASK_QUEUE]);
    for (const w of this.options.workflows)
      if (w.options.taskQueue) queues.add(w.options.taskQueue);
    for (const s of this.options.steps ?? [])
      if (s.options.taskQueue) queues.add(s.options.taskQueue);
    const { created, replicationFactor } = await withAdmin(kafka, (admin) =>
      ensureTopics(admin, config, [...queues]),
    );
    if (created.length > 0)
      this.log.info(
        {
          topics: created,
          replicationFactor,
          minInsyncReplicas: replicationFactor > 1 ? 2 : 1,
        },
        "topics created",
      );
    await this.startConsumer();
    this.log.info({ groupId: this.groupId }, "decider started");
  }

  private async startConsumer(): Promise<void> {
    const { kafka, config } = this.options;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: this.sessionTimeoutMs,
      rebalanceTimeout: 20_000,
      // Several beats per session, so a live member is never taken for dead under load.
      heartbeatInterval: Math.max(100, Math.floor(this.sessionTimeoutMs / 6)),
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(!this.stopped) },
      // Keep partitions where they are: each one moved costs its new owner a restore.
      partitionAssigners: [
        stickyAssigner(() => ({ [this.commandsTopic]: this.claimedPartitions })),
        PartitionAssigners.roundRobin,
      ],
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.consumer !== consumer) return;
      this.memberId = payload.memberId;
      this.onAssignment(new Set(payload.memberAssignment[this.commandsTopic] ?? []));
    });
    // A fetch of filtered records only (a marker, an aborted transaction) reaches no eachBatch:
    // its range still tells the partition's owner that nothing was skipped there.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (this.consumer !== consumer) return;
      if (payload.batchSize !== 0 || payload.topic !== this.commandsTopic) return;
      if (!payload.firstOffset || !this.owners.has(payload.partition)) return;
      this.owner(payload.partition).fetchedFiltered(
        BigInt(payload.firstOffset),
        BigInt(payload.lastOffset),
      );
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.consumer !== consumer) return;
      if ((payload.error as { type?: string }).type === "INVALID_SESSION_TIMEOUT") {
        // The broker's group.min.session.timeout.ms is above ours: use Kafka's default floor.
        const fallback = Math.max(this.sessionTimeoutMs * 2, BROKER_DEFAULT_MIN_SESSION_MS);
        this.log.warn(
          { configured: this.sessionTimeoutMs, using: fallback },
          "the broker refused the decider session timeout (group.min.session.timeout.ms is higher); failover will be slower",
        );
        this.sessionTimeoutMs = fallback;
      } else {
        this.log.error(
          { err: payload.error, restart: payload.restart },
          "decider consumer crashed",
        );
      }
      // kafkajs rejoins by itself unless it gave up: then this decider starts a new consumer.
      if (!payload.restart) this.scheduleRestart(consumer);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.commandsTopic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.commandPartitions,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (batch.messages.length === 0 || payload.isStale()) return;
          await this.options.faults?.at("decider.fetch");
          if (payload.isStale()) return;
          // The batch's whole range, transaction markers and aborted records included.
          const first = batch.firstOffset() ?? batch.messages[0]!.offset;
          await this.owner(batch.partition).accept(batch.messages, {
            first: BigInt(first),
            last: BigInt(batch.lastOffset()),
          });
          payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
        },
      });
    } catch (err) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private scheduleRestart(crashed: PortConsumer): void {
    if (this.stopped || this.restartTimer) return;
    const delay = backoffMs(RESTART_BACKOFF, this.restarts + 1);
    this.restarts++;
    // The group moves our partitions elsewhere while we are gone: nothing of them is ours.
    this.onAssignment(new Set());
    this.consumer = undefined;
    void crashed.disconnect().catch(() => undefined);
    this.log.warn({ retryInMs: delay }, "restarting the decider consumer");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.startConsumer().then(
        () => {
          this.restarts = 0;
          this.log.info("decider consumer restarted");
        },
        (err) => {
          this.log.warn({ err }, "could not restart the decider consumer");
          this.scheduleRestart(crashed);
        },
      );
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    // Stop fetching, commit what is pending while still owning the partitions, then leave.
    try {
      this.consumer?.pause([{ topic: this.commandsTopic }]);
    } catch (err) {
      // kafkajs refuses while it restarts the consumer; nothing is fetched then anyway.
      this.log.debug({ err }, "could not pause the consumer");
    }
    await Promise.all([...this.owners.values()].map((o) => o.flush(10_000)));
    await this.consumer?.disconnect();
    await Promise.all([...this.owners.values()].map((o) => o.close()));
    this.owners.clear();
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
    this.log.info("decider stopped");
  }

  /** Resolves once every owned partition has restored its runs. */
  async ready(): Promise<void> {
    await Promise.all([...this.owners.values()].map((o) => o.whenReady()));
  }

  private onAssignment(assigned: Set<number>): void {
    for (const [partition, owner] of this.owners) {
      if (!assigned.has(partition)) {
        this.owners.delete(partition);
        void owner.close();
        this.log.info({ partition }, "partition revoked");
      }
    }
    // Restore eagerly so timers fire even when no command arrives.
    for (const partition of assigned) this.owner(partition).start();
  }

  private owner(partition: number): PartitionOwner {
    let owner = this.owners.get(partition);
    if (!owner) {
      owner = new PartitionOwner(partition, {
        kafka: this.options.kafka,
        decisionLog: this.options.decisionLog,
        config: this.options.config,
        registry: this.registry,
        log: this.log,
        groupId: this.groupId,
        metrics: this.metrics,
        clock: this.options.clock,
        faults: this.options.faults,
        taskPartitions: (queue) => this.taskPartitions(queue),
        commandPartitions: () => this.commandPartitions(),
        cursor: this.cursor,
        tasksCommitted: (work) => this.tasksCommitted?.(work),
      });
      this.owners.set(partition, owner);
      this.log.info({ partition }, "partition assigned");
    }
    return owner;
  }

  private readonly cursor: PartitionCursor = {
    committedOffset: (partition) =>
      this.withSharedAdmin(async (admin) => {
        const [entry] = await admin.fetchOffsets({
          groupId: this.groupId,
          topics: [this.commandsTopic],
        });
        const found = entry?.partitions.find((p) => p.partition === partition);
        return found && found.offset !== "-1" ? BigInt(found.offset) : 0n;
      }),
    endOffset: (partition) =>
      this.withSharedAdmin(async (admin) => {
        const offsets = await admin.fetchTopicOffsets(this.commandsTopic);
        const found = offsets.find((o) => o.partition === partition);
        if (!found) throw new Error(`no offsets for ${this.commandsTopic} partition ${partition}`);
        return BigInt(found.high);
      }),
    holds: (partition) =>
      this.withSharedAdmin(async (admin) => {
        const memberId = this.memberId;
        // Where the coordinator cannot be asked (embedded mode), the open's fence decides.
        if (!admin.describeGroups || !memberId) return true;
        const { groups } = await admin.describeGroups([this.groupId]);
        const group = groups.find((g) => g.groupId === this.groupId);
        // A rebalance in progress ends with a GROUP_JOIN here that tells (or a revocation).
        if (group?.state !== "Stable") return false;
        const member = group.members.find((m) => m.memberId === memberId);
        if (!member) return false;
        return assignedPartitions(member, this.commandsTopic).includes(partition);
      }),
    seek: (partition, offset) => {
      if (!this.consumer) throw new Error("the decider consumer is not running");
      this.consumer.seek({ topic: this.commandsTopic, partition, offset: offset.toString() });
    },
    pause: (partition) =>
      this.consumer?.pause([{ topic: this.commandsTopic, partitions: [partition] }]),
    resume: (partition) =>
      this.consumer?.resume([{ topic: this.commandsTopic, partitions: [partition] }]),
  };

  /** One admin client for the decider's offset reads; replaced after any error. */
  private async withSharedAdmin<T>(work: (admin: PortAdmin) => Promise<T>): Promise<T> {
    // A partition still opening when the decider stopped must not open a client nobody closes.
    if (this.stopped) throw new Error("the decider is stopped");
    if (!this.admin) {
      const admin = this.options.kafka.admin();
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

  /** Partitions of the commands topic, read once (a failed read is tried again next time). */
  private commandPartitions(): Promise<number> {
    if (!this.commandTopicPartitions) {
      const { kafka } = this.options;
      const known = withAdmin(kafka, (admin) => partitionCount(admin, this.commandsTopic));
      known.catch(() => {
        if (this.commandTopicPartitions === known) this.commandTopicPartitions = undefined;
      });
      this.commandTopicPartitions = known;
    }
    return this.commandTopicPartitions;
  }

  /** Task topics are created on first use, so a step on a new queue never fails a commit. */
  private taskPartitions(queue: string): Promise<number> {
    let known = this.taskTopics.get(queue);
    if (!known) {
      known = (async () => {
        const { kafka, config } = this.options;
        return withAdmin(kafka, async (admin) => {
          await ensureTopics(admin, config, [queue]);
          return partitionCount(admin, topics.tasks(config, queue));
        });
      })();
      known.catch(() => this.taskTopics.delete(queue));
      this.taskTopics.set(queue, known);
    }
    return known;
  }
}
