import type { KafkaPort, PortConsumer } from "../transport/port";
import type { Registry as MetricsRegistry } from "prom-client";
import type { Clock } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { ensureTopics, withAdmin } from "../transport/kafka";
import { partitionCount } from "../transport/partitioning";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import { createDeciderMetrics, type DeciderMetrics } from "./metrics";
import { PartitionOwner } from "./partition-owner";
import { DEFAULT_TASK_QUEUE, Registry } from "./registry";

export interface DeciderOptions {
  config: WeftConfig;
  kafka: KafkaPort;
  logger: Logger;
  workflows: readonly AnyWorkflowDefinition[];
  /** Step definitions whose policies (retry, timeout, queue) the decider should apply. */
  steps?: readonly AnyStepDefinition[];
  metrics?: DeciderMetrics;
  /** Where the decider's metrics go (e.g. the process's registry); default one of its own. */
  metricsRegistry?: MetricsRegistry;
  /** Where decisions read the time and durable timers wait; default the system clock. */
  clock?: Clock;
}

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
  private readonly groupId: string;
  private readonly taskTopics = new Map<string, Promise<number>>();

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
        },
        options.metricsRegistry,
      );
    this.log = options.logger.child({ role: "decider" });
    this.groupId = topics.deciderGroup(options.config);
  }

  /** Partitions this decider owns right now. */
  get ownedPartitions(): number[] {
    return [...this.owners.keys()].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    const { kafka, config } = this.options;
    const queues = new Set([DEFAULT_TASK_QUEUE]);
    for (const w of this.options.workflows)
      if (w.options.taskQueue) queues.add(w.options.taskQueue);
    for (const s of this.options.steps ?? [])
      if (s.options.taskQueue) queues.add(s.options.taskQueue);
    await withAdmin(kafka, (admin) => ensureTopics(admin, config, [...queues]));
    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set(payload.memberAssignment[topics.commands(config)] ?? []);
      this.onAssignment(assigned);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log.error({ err: payload.error, restart: payload.restart }, "decider consumer crashed");
    });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.commands(config), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.commandPartitions,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (batch.messages.length === 0 || payload.isStale()) return;
        await this.owner(batch.partition).accept(batch.messages);
        payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      },
    });
    this.log.info({ groupId: this.groupId }, "decider started");
  }

  async stop(): Promise<void> {
    // Stop fetching, commit what is pending while still owning the partitions, then leave.
    try {
      this.consumer?.pause([{ topic: topics.commands(this.options.config) }]);
    } catch (err) {
      // kafkajs refuses while it restarts the consumer; nothing is fetched then anyway.
      this.log.debug({ err }, "could not pause the consumer");
    }
    await Promise.all([...this.owners.values()].map((o) => o.flush(10_000)));
    await this.consumer?.disconnect();
    await Promise.all([...this.owners.values()].map((o) => o.close()));
    this.owners.clear();
    this.log.info("decider stopped");
  }

  /** Resolves once every owned partition has restored its runs. */
  async ready(): Promise<void> {
    await Promise.all([...this.owners.values()].map((o) => o.ensureOpen()));
  }

  private onAssignment(assigned: Set<number>): void {
    for (const [partition, owner] of this.owners) {
      if (!assigned.has(partition)) {
        this.owners.delete(partition);
        void owner.close();
        this.log.info({ partition }, "partition revoked");
      }
    }
    for (const partition of assigned) {
      const owner = this.owner(partition);
      // Restore eagerly so timers fire even when no command arrives.
      owner
        .ensureOpen()
        .catch((err) => this.log.error({ partition, err }, "restoring partition failed"));
    }
  }

  private owner(partition: number): PartitionOwner {
    let owner = this.owners.get(partition);
    if (!owner) {
      owner = new PartitionOwner(partition, {
        kafka: this.options.kafka,
        config: this.options.config,
        registry: this.registry,
        log: this.log,
        groupId: this.groupId,
        metrics: this.metrics,
        clock: this.options.clock,
        taskPartitions: (queue) => this.taskPartitions(queue),
        rewind: async (p) => {
          const offset = await this.committedOffset(p);
          this.consumer?.seek({
            topic: topics.commands(this.options.config),
            partition: p,
            offset,
          });
          return offset;
        },
      });
      this.owners.set(partition, owner);
      this.log.info({ partition }, "partition assigned");
    }
    return owner;
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

  private async committedOffset(partition: number): Promise<string> {
    return withAdmin(this.options.kafka, async (admin) => {
      const [entry] = await admin.fetchOffsets({
        groupId: this.groupId,
        topics: [topics.commands(this.options.config)],
      });
      const found = entry?.partitions.find((p) => p.partition === partition);
      return found && found.offset !== "-1" ? found.offset : "0";
    });
  }
}
