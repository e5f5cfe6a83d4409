import type {
  KafkaPort,
  PortAdmin,
  PortDecisionLog,
  PortPartitionOwnership,
} from "../transport/port";
import type { Registry as MetricsRegistry } from "prom-client";
import type { Clock } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import type { FaultSeam } from "../core/fault-points";
import type { Logger } from "../core/logger";
import { ensureTopics, withAdmin } from "../transport/topics";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import type { Command } from "../schemas/types";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import { createDeciderMetrics, type DeciderMetrics } from "./metrics";
import { PartitionOwner, type CommittedWork } from "./partition-owner";
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

/** A rebalance waits this long for a decider to finish the commands in hand. */
const REBALANCE_TIMEOUT_MS = 20_000;

/**
 * A member of the `deciders` consumer group over `weft.commands`. Kafka assigns partitions;
 * for each, a PartitionOwner restores the partition's open runs and applies its commands.
 */
export class Decider {
  readonly metrics: DeciderMetrics;
  private readonly registry: Registry;
  private readonly owners = new Map<number, PartitionOwner>();
  private readonly log: Logger;
  /** This decider's partitions of `weft.commands`, as the group deals them. */
  private readonly ownership: PortPartitionOwnership;
  private readonly groupId: string;
  private readonly commandsTopic: string;
  private readonly taskTopics = new Map<string, Promise<number>>();
  private commandTopicPartitions: Promise<number> | undefined;
  /** The partition counts read so far, for answers that cannot wait (offersEveryTaskOf). */
  private commandPartitionCount: number | undefined;
  private readonly taskPartitionCounts = new Map<string, number>();
  private stopped = false;
  private tasksCommitted: ((work: CommittedWork) => void) | undefined;
  /** Resolved by the group's first assignment here, or by the stop. */
  private assignedOnce!: () => void;
  private readonly firstAssigned = new Promise<void>((resolve) => (this.assignedOnce = resolve));

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
    this.ownership = options.decisionLog.ownership({
      groupId: this.groupId,
      topic: this.commandsTopic,
      sessionTimeoutMs: options.config.deciderSessionTimeoutMs,
      concurrency: options.config.commandPartitions,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
      logger: this.log,
    });
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
   * True when this decider writes every task that partition `partition` of `queue`'s task
   * topic receives, and hands each to `onTasksCommitted`: it owns, ready, every command
   * partition whose tasks go there (command partition c writes to c modulo the task
   * partitions). Tasks an earlier owner committed are not its own: a worker that reads such a
   * partition quietly still catches up on it now and then (workers/quiet-fetch.ts).
   */
  offersEveryTaskOf(queue: string, partition: number): boolean {
    const commands = this.commandPartitionCount;
    const tasks = this.taskPartitionCounts.get(queue);
    if (this.stopped || !this.tasksCommitted || commands === undefined || tasks === undefined)
      return false;
    if (partition >= Math.min(commands, tasks)) return false;
    for (let c = partition; c < commands; c += tasks)
      if (!this.owners.get(c)?.isReady) return false;
    return true;
  }

  /** Resolves once the group first dealt this decider its partitions (or it stopped first). */
  firstAssignment(): Promise<void> {
    return this.firstAssigned;
  }

  /**
   * The partitions of `queue`'s task topic that the command partitions this decider owns
   * write to (c modulo the task partitions), ready or still restoring: where a worker in this
   * process asks its group to sit. None until the partition counts were read (at start).
   */
  tasksWrittenTo(queue: string): number[] {
    const tasks = this.taskPartitionCounts.get(queue);
    if (this.stopped || tasks === undefined) return [];
    const written = new Set([...this.owners.keys()].map((c) => c % tasks));
    return [...written].sort((a, b) => a - b);
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
    const { created, replicationFactor } = await withAdmin(kafka, async (admin) => {
      const ensured = await ensureTopics(admin, config, [...queues]);
      // Read now, with the same admin, so that a worker beside this decider knows at once
      // where its tasks go (tasksWrittenTo); a failed read is read again at its first use.
      await Promise.allSettled([
        this.commandPartitions(admin),
        ...[...queues].map((queue) => this.taskPartitions(queue, admin)),
      ]);
      return ensured;
    });
    if (created.length > 0)
      this.log.info(
        {
          topics: created,
          replicationFactor,
          minInsyncReplicas: replicationFactor > 1 ? 2 : 1,
        },
        "topics created",
      );
    await this.ownership.start({
      assigned: (partitions) => this.onAssignment(partitions),
      fetched: async (batch) => {
        await this.options.faults?.at("decider.fetch");
        if (batch.isStale()) return;
        await this.owner(batch.partition).accept(batch.messages, batch);
        batch.take(batch.messages[batch.messages.length - 1]!.offset);
      },
      skipped: (partition, first, last) => {
        if (this.owners.has(partition)) this.owner(partition).fetchedFiltered(first, last);
      },
      claimed: () => this.claimedPartitions,
    });
    this.log.info({ groupId: this.groupId }, "decider started");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.assignedOnce();
    // Stop fetching, commit what is pending while still owning the partitions, then leave.
    this.ownership.stopFetching();
    await Promise.all([...this.owners.values()].map((o) => o.flush(10_000)));
    await this.ownership.leave();
    await Promise.all([...this.owners.values()].map((o) => o.close()));
    this.owners.clear();
    this.log.info("decider stopped");
  }

  /** Resolves once every owned partition has restored its runs. */
  async ready(): Promise<void> {
    await Promise.all([...this.owners.values()].map((o) => o.whenReady()));
  }

  private onAssignment(assigned: ReadonlySet<number>): void {
    this.assignedOnce();
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
        cursor: this.ownership,
        tasksCommitted: (work) => this.tasksCommitted?.(work),
      });
      this.owners.set(partition, owner);
      this.log.info({ partition }, "partition assigned");
    }
    return owner;
  }

  /**
   * Partitions of the commands topic, read once (a failed read is tried again next time),
   * with `admin` when one is open.
   */
  private commandPartitions(admin?: PortAdmin): Promise<number> {
    if (!this.commandTopicPartitions) {
      const read = (a: PortAdmin) => partitionCount(a, this.commandsTopic);
      const known = admin ? read(admin) : withAdmin(this.options.kafka, read);
      known.then(
        (count) => (this.commandPartitionCount = count),
        () => {
          if (this.commandTopicPartitions === known) this.commandTopicPartitions = undefined;
        },
      );
      this.commandTopicPartitions = known;
    }
    return this.commandTopicPartitions;
  }

  /**
   * Task topics are created on first use, so a step on a new queue never fails a commit.
   * Given `admin`, the topic exists already (start ensured it): only its count is read.
   */
  private taskPartitions(queue: string, admin?: PortAdmin): Promise<number> {
    let known = this.taskTopics.get(queue);
    if (!known) {
      const { kafka, config } = this.options;
      const count = (a: PortAdmin) => partitionCount(a, topics.tasks(config, queue));
      known = admin
        ? count(admin)
        : withAdmin(kafka, async (a) => {
            await ensureTopics(a, config, [queue]);
            return count(a);
          });
      known.then(
        (count) => this.taskPartitionCounts.set(queue, count),
        () => this.taskTopics.delete(queue),
      );
      this.taskTopics.set(queue, known);
    }
    return known;
  }
}
