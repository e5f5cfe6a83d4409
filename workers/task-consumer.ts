import type { TaskPosition } from "./task-position";
import type {
  KafkaPort,
  OwnedBatch,
  PortConsumedMessage,
  PortPartitionOwnership,
} from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import { partitionOwnership } from "../transport/group-ownership";
import { headerText, SCHEMA_HEADER, stepCancelCodec, taskCodec } from "../schemas/codec";
import type { StepCancel, StepTask } from "../schemas/types";
import { OffsetTracker } from "./offset-tracker";
import { QUIET_CATCH_UP_MS, QuietFetch } from "./quiet-fetch";
import type { SlotPool } from "./slot-pool";

export const COMMIT_INTERVAL_MS = 200;
/** A worker silent this long loses its task partitions to the others. */
const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_INTERVAL_MS = 1000;
/** A rebalance waits this long for the tasks in hand to be dispatched (kafkajs's default). */
const REBALANCE_TIMEOUT_MS = 60_000;

/** Where a task came from: its queue, and when the decider wrote it (the record's timestamp). */
export interface TaskDelivery {
  queue: string;
  scheduledAt: number;
  /**
   * Where the task record sits: its done-marker is needed until the offset is committed.
   * Unknown for a task the decider in this process handed over (Worker.offer).
   */
  position: TaskPosition | undefined;
}

export interface TaskConsumerOptions {
  kafka: KafkaPort;
  config: WeftConfig;
  queue: string;
  pool: SlotPool;
  log: Logger;
  /** Aborted when the worker starts stopping: no more tasks are dispatched. */
  stopping: AbortSignal;
  /** Where waiting for Kafka shows (the process's, for /readyz). */
  readiness?: Readiness;
  /** Runs a task; resolves true when its offset may be committed. Must not reject. */
  runTask(task: StepTask, log: Logger, delivery: TaskDelivery): Promise<boolean>;
  /**
   * A cancel notice (StepCancel) for an attempt whose task came before it on this partition:
   * aborts the attempt if it runs here. Must not throw. Without it, notices are skipped.
   */
  cancelTask?(cancel: StepCancel, log: Logger): void;
  /**
   * The run of an attempt already running in this process, by the task record's key: the
   * decider here handed the task over before its record came. Undefined when none runs.
   */
  runningHere?(recordKey: string): Promise<unknown> | undefined;
  /**
   * True while the decider in this process writes, and hands to this worker as it commits
   * them, every task of the partition: the partition is then read quietly (quiet-fetch.ts).
   * Without it, every partition is fetched as usual.
   */
  covered?(partition: number): boolean;
  /**
   * The partitions this member asks its group for: those the decider in this process writes
   * tasks to. The group deals them here where its balance allows (a partition two members
   * ask for goes to one). Without it, the member asks to keep those it holds.
   */
  claims?(): readonly number[];
  /** How many of the queue's partitions are read quietly now, after each change. */
  onQuiet?(count: number): void;
  /** Sends an undecodable record to the DLQ; resolves true once it is there. Must not reject. */
  deadLetter(
    source: { topic: string; partition: number; message: PortConsumedMessage },
    reason: string,
  ): Promise<boolean>;
}

/**
 * Consumes one task queue (`<prefix>.tasks.<queue>`, group `<prefix>.workers.<queue>`).
 * Tasks are handed to the worker's pool without awaiting them, so many run at once; offsets
 * are committed only up to the lowest task of each partition that is not finished.
 */
export class TaskConsumer {
  readonly topic: string;
  readonly groupId: string;
  /** The queue's partitions this worker owns in the group, and their fetched tasks. */
  private readonly ownership: PortPartitionOwnership;
  private readonly readiness: Readiness;
  private readonly log: Logger;
  /** Per assigned partition; replaced on every assignment (fetching restarts from commits). */
  private trackers = new Map<number, OffsetTracker>();
  /** The partitions the group assigned here at its last join. */
  private assigned = new Set<number>();
  private commitTimer: NodeJS.Timeout | undefined;
  private readonly quiet: QuietFetch | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: TaskConsumerOptions) {
    const { kafka, config, queue } = options;
    this.topic = topics.tasks(config, queue);
    this.groupId = topics.workerGroup(config, queue);
    this.log = options.log.child({ queue, topic: this.topic });
    this.readiness = options.readiness ?? new Readiness();
    this.ownership = partitionOwnership(kafka, {
      groupId: this.groupId,
      topic: this.topic,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
      concurrency: config.taskPartitions,
      logger: this.log,
      waiting: { readiness: this.readiness, role: "worker", what: this.what },
    });
    this.quiet = options.covered
      ? new QuietFetch({
          covered: (partition) => options.covered?.(partition) ?? false,
          pause: (partition) => this.ownership.pause(partition),
          resume: (partition) => this.ownership.resume(partition),
          active: () => this.running && !options.stopping.aborted,
          onQuiet: (count) => options.onQuiet?.(count),
        })
      : undefined;
  }

  /** What this consumer does, for logs and /readyz. */
  private get what(): string {
    return `consume tasks of queue ${this.options.queue}`;
  }

  get queue(): string {
    return this.options.queue;
  }

  /** Whether the group assigned the partition here (as of its last join). */
  holds(partition: number): boolean {
    return this.running && this.assigned.has(partition);
  }

  /** Joins the group and starts consuming; waits (with backoff) while Kafka is unreachable. */
  async start(): Promise<void> {
    const { log, readiness } = this;
    await untilAvailable(
      { role: "worker", log, readiness, signal: this.options.stopping },
      "kafka",
      this.what,
      () =>
        this.ownership.start({
          assigned: (partitions) => this.onGroupJoin([...partitions]),
          fetched: (batch) => this.eachBatch(batch),
          // Records filtered out (transaction markers) still end a catch-up there.
          skipped: (partition) => this.quiet?.handled(partition),
          claimed: () => this.options.claims?.() ?? [...this.assigned],
        }),
    );
    this.running = true;
    this.commitTimer = setInterval(() => void this.commit(), COMMIT_INTERVAL_MS);
    this.commitTimer.unref();
    if (this.quiet) {
      const quiet = this.quiet;
      this.quietTimer = setInterval(() => quiet.tick(this.assigned), QUIET_CATCH_UP_MS);
      this.quietTimer.unref();
    }
  }

  /**
   * A task of the partition, offered by the decider here, was not run at once (no free slot,
   * or its run ended unreported): its record is needed now, not at the next catch-up.
   */
  wake(partition: number): void {
    this.quiet?.wake(partition);
  }

  /** Stops fetching, for good (the worker is stopping); tasks already dispatched go on. */
  pause(): void {
    this.ownership.stopFetching();
  }

  /** Commits what finished, then leaves the group. Never rejects. */
  async stop(): Promise<void> {
    clearInterval(this.commitTimer);
    this.commitTimer = undefined;
    clearInterval(this.quietTimer);
    this.quietTimer = undefined;
    if (this.running) await this.commit();
    this.running = false;
    try {
      await this.ownership.leave();
    } catch (err) {
      this.log.warn({ err }, "could not disconnect the task consumer");
    }
  }

  /** Commits, per partition, up to the lowest unfinished offset. Never rejects. */
  commit(): Promise<void> {
    this.committing ??= this.commitNow().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private async commitNow(): Promise<void> {
    const due: Array<{ tracker: OffsetTracker; partition: number; offset: string }> = [];
    for (const [partition, tracker] of this.trackers) {
      const offset = tracker.committable();
      if (offset !== undefined) due.push({ tracker, partition, offset });
    }
    if (due.length === 0) return;
    try {
      await this.ownership.commit(due.map(({ partition, offset }) => ({ partition, offset })));
      for (const { tracker, offset } of due) tracker.markCommitted(offset);
    } catch (err) {
      // A rebalance in progress refuses commits; the next generation starts from the last one.
      this.log.warn({ err }, "could not commit task offsets");
    }
  }

  private onGroupJoin(assigned: readonly number[]): void {
    // kafkajs restarts every assigned partition from its committed offset after a join, so
    // the old trackers cannot go on: tasks still running finish and report, but their offsets
    // are no longer ours to commit. Redeliveries of them wait for the local run (or find its
    // done-marker) instead of running twice.
    const pending = [...this.trackers.values()].reduce((n, t) => n + t.pending, 0);
    this.trackers = new Map();
    this.assigned = new Set(assigned);
    this.quiet?.reset();
    this.log.info(
      { partitions: [...assigned].sort((a, b) => a - b), pendingDropped: pending },
      "task partitions assigned",
    );
  }

  private tracker(partition: number, offset: string): OffsetTracker {
    const current = this.trackers.get(partition);
    const highest = current?.highestTracked;
    if (current && (highest === undefined || BigInt(offset) > BigInt(highest))) return current;
    if (current)
      this.log.info({ partition, offset, highest }, "partition rewound; tracking it afresh");
    const fresh = new OffsetTracker();
    this.trackers.set(partition, fresh);
    return fresh;
  }

  private cancel(cancel: StepCancel): void {
    const log = this.log.child({
      workflowId: cancel.workflowId,
      stepSeq: cancel.stepSeq,
      attempt: cancel.attempt,
    });
    this.options.cancelTask?.(cancel, log);
  }

  private async eachBatch(batch: OwnedBatch): Promise<void> {
    const { pool, stopping } = this.options;
    const { topic } = this;
    const { partition } = batch;
    let dispatchedAll = true;
    let tracker: OffsetTracker | undefined;
    for (const message of batch.messages) {
      if (stopping.aborted || batch.isStale()) {
        dispatchedAll = false;
        break;
      }
      // A record whose attempt already runs here needs no slot of its own (below).
      const key = message.key?.toString();
      const here = key === undefined ? undefined : this.options.runningHere?.(key);
      if (!here && pool.full && !(await pool.waitForSlot(() => batch.heartbeat()))) {
        dispatchedAll = false;
        break;
      }
      if (stopping.aborted || batch.isStale()) {
        dispatchedAll = false;
        break;
      }
      tracker ??= this.tracker(partition, message.offset);
      const owner = tracker;
      const { offset } = message;
      owner.track(offset);
      let task: StepTask;
      try {
        // A cancel notice shares the topic with the tasks (its schema header tells them
        // apart): it aborts what runs here, and is done with as soon as it is read.
        if (headerText(message.headers, SCHEMA_HEADER) === stepCancelCodec.schemaName) {
          this.cancel(stepCancelCodec.decode(message.value, message.headers));
          owner.finish(offset);
          batch.take(offset);
          continue;
        }
        task = taskCodec.decode(message.value, message.headers);
      } catch (err) {
        const reason = (err as Error).message;
        this.log.error({ partition, offset, reason }, "undecodable task; sending it to the DLQ");
        pool.run(async () => {
          if (await this.options.deadLetter({ topic, partition, message }, reason))
            owner.finish(offset);
        });
        batch.take(offset);
        continue;
      }
      const log = this.log.child({
        workflowId: task.workflowId,
        stepSeq: task.stepSeq,
        attempt: task.attempt,
        stepName: task.stepName,
      });
      const delivery = {
        queue: this.options.queue,
        scheduledAt: Number(message.timestamp),
        position: { topic, partition, offset: Number(offset) },
      };
      const dispatch = () =>
        pool.run(async () => {
          if (await this.options.runTask(task, log, delivery)) owner.finish(offset);
        });
      // The attempt runs here already: its record waits for that run outside the pool, its
      // offset held back meanwhile. Waiting in a slot, copies of running attempts could fill
      // the pool and keep out the tasks those attempts' runs wait on. Then it takes a slot
      // for a moment (the attempt was reported here: nothing runs) or, if the run here ended
      // without a report, to run the attempt as any delivery does.
      if (here) void here.then(dispatch, dispatch);
      else dispatch();
      batch.take(offset);
    }
    // Offsets past the last record (transaction markers) have nothing left to do.
    if (dispatchedAll && tracker && batch.messages.length > 0)
      tracker.skipTo(batch.last.toString());
    if (dispatchedAll) this.quiet?.handled(partition);
  }
}
