import type { KafkaPort, PortConsumedMessage, PortMessage, PortProducer } from "../transport/port";
import { systemClock, type Clock, type ClockTimer } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { deadLetterMessage } from "../producers/dead-letter";
import { commandCodec, historyCodec, taskCodec } from "../schemas/codec";
import type { StepTask } from "../schemas/types";
import { readHistoryPartitions } from "../transport/history-reader";
import { isFencingError } from "../transport/kafka";
import { PartitionState, type Decisions } from "./partition-state";
import type { Registry } from "./registry";
import type { DeciderMetrics } from "./metrics";

export type OwnerPhase = "idle" | "opening" | "ready" | "closed";

/** Legal phase changes; anything else is a bug and throws. */
const TRANSITIONS: Record<OwnerPhase, readonly OwnerPhase[]> = {
  idle: ["opening", "closed"],
  opening: ["ready", "idle", "closed"],
  ready: ["idle", "closed"],
  closed: [],
};

export interface OwnerDeps {
  kafka: KafkaPort;
  config: WeftConfig;
  registry: Registry;
  log: Logger;
  groupId: string;
  metrics: DeciderMetrics;
  /** Partition count of a task queue's topic, creating the topic when it is new. */
  taskPartitions(queue: string): Promise<number>;
  /** Seeks the consumer back to the partition's committed offset and returns it. */
  rewind(partition: number): Promise<string>;
  /** The time of decisions and durable timers; default the system clock. */
  clock?: Clock;
}

/** Commands decided in one transaction at most, and pending before fetching waits. */
const MAX_BATCH = 1000;
const MAX_PENDING = 5000;

/**
 * Owns one partition of `weft.commands` while the group assigns it here. A transactional
 * producer whose ID names the partition fences any previous owner; every decision (history,
 * tasks, dead letters, consumed offset) commits in one transaction. Commands and timers of the
 * partition run one at a time through `serial`.
 */
export class PartitionOwner {
  private phase: OwnerPhase = "idle";
  private state: PartitionState | undefined;
  private producer: PortProducer | undefined;
  private opening: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: ClockTimer | undefined;
  private pending: PortConsumedMessage[] = [];
  private nextOffset: bigint | undefined;
  private resumeAt: bigint | undefined;
  private draining: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly commandsTopic: string;
  private readonly historyTopic: string;
  private readonly clock: Clock;

  constructor(
    readonly partition: number,
    private readonly deps: OwnerDeps,
  ) {
    this.log = deps.log.child({ partition });
    this.commandsTopic = topics.commands(deps.config);
    this.historyTopic = topics.history(deps.config);
    this.clock = deps.clock ?? systemClock;
  }

  get isReady(): boolean {
    return this.phase === "ready";
  }

  get openRuns(): number {
    return this.state?.openRuns ?? 0;
  }

  get pendingTimers(): number {
    return this.state?.timers.size ?? 0;
  }

  /** Fences the previous owner and restores the partition's runs from history. */
  ensureOpen(): Promise<void> {
    if (this.phase === "ready") return Promise.resolve();
    if (this.phase === "closed")
      return Promise.reject(new Error(`partition ${this.partition} is closed`));
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  /**
   * Takes a fetched batch of commands. They are decided and committed in the background,
   * together with whatever else arrives meanwhile (group commit), so fetching never waits on a
   * transaction. Resolves at once unless too much is pending.
   */
  async accept(messages: readonly PortConsumedMessage[]): Promise<void> {
    for (const message of messages) {
      const offset = BigInt(message.offset);
      if (this.resumeAt !== undefined) {
        // After a failed commit the consumer was rewound: skip what was fetched before that.
        if (offset !== this.resumeAt) continue;
        this.resumeAt = undefined;
      }
      // A rebalance re-fetches from the committed offset what is already pending here.
      if (this.nextOffset !== undefined && offset < this.nextOffset) continue;
      this.pending.push(message);
      this.nextOffset = offset + 1n;
    }
    this.kick();
    while (this.pending.length > MAX_PENDING && this.phase !== "closed") await this.draining;
  }

  /** Resolves when everything accepted so far is committed, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.draining || this.pending.length > 0) && Date.now() < deadline) {
      await Promise.race([this.draining, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  private kick(): void {
    if (this.draining || this.pending.length === 0) return;
    this.draining = this.serial(() => this.drain())
      .catch((err) => this.rewind(err))
      .finally(() => {
        this.draining = undefined;
        this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 && this.phase !== "closed") {
      await this.ensureOpen();
      const linger = this.deps.config.deciderLingerMs;
      if (linger > 0 && this.pending.length < MAX_BATCH)
        await new Promise((r) => setTimeout(r, linger));
      const messages = this.pending.splice(0, MAX_BATCH);
      await this.decideAndCommit(messages);
    }
  }

  /** A batch did not commit: drop what is pending and consume again from the committed offset. */
  private async rewind(cause: unknown): Promise<void> {
    this.pending = [];
    this.nextOffset = undefined;
    if (this.phase === "closed") return;
    this.log.warn({ err: cause }, "commands not committed; consuming them again");
    try {
      this.resumeAt = BigInt(await this.deps.rewind(this.partition));
    } catch (err) {
      this.log.error({ err }, "could not rewind the consumer");
    }
  }

  private async decideAndCommit(messages: PortConsumedMessage[]): Promise<void> {
    const state = this.state!;
    const now = this.clock.now();
    const deadLetters: PortMessage[] = [];
    const toDlq = (message: PortConsumedMessage, reason: string) => {
      this.deps.metrics.deadLetters.inc();
      this.log.warn({ offset: message.offset, reason }, "command sent to the DLQ");
      deadLetters.push(
        deadLetterMessage(
          { topic: this.commandsTopic, partition: this.partition, message },
          reason,
          this.deps.groupId,
        ),
      );
    };
    for (const message of messages) {
      let command;
      try {
        command = commandCodec.decode(message.value, message.headers);
      } catch (err) {
        toDlq(message, (err as Error).message);
        continue;
      }
      try {
        await state.apply(command, now);
      } catch (err) {
        // A command the decider cannot apply must not stop the partition.
        this.log.error({ err, workflowId: command.workflowId }, "command could not be applied");
        toDlq(message, `decider could not apply it: ${(err as Error).message}`);
      }
    }
    const last = messages[messages.length - 1]!;
    await this.commit(state.takeDecisions(), deadLetters, (BigInt(last.offset) + 1n).toString());
    this.deps.metrics.commands.inc(messages.length);
  }

  close(): Promise<void> {
    if (this.phase === "closed") return Promise.resolve();
    this.transition("closed");
    this.clearTimer();
    this.state = undefined;
    const producer = this.producer;
    this.producer = undefined;
    return this.chain.then(
      () => producer?.disconnect(),
      () => producer?.disconnect(),
    );
  }

  private async open(): Promise<void> {
    this.transition("opening");
    try {
      if (!this.producer) {
        this.producer = this.deps.kafka.producer({
          transactionalId: `${this.deps.config.topicPrefix}.decider.p${this.partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: 30_000,
          allowAutoTopicCreation: false,
          // The coordinator answers CONCURRENT_TRANSACTIONS while it still writes the markers
          // of the previous commit: retry soon rather than after kafkajs's default 300 ms.
          retry: { initialRetryTime: 5, maxRetryTime: 100, retries: 30 },
        });
        await this.producer.connect();
      }
      // Starting a transaction initialises the producer ID: the previous owner is now fenced
      // and its open transaction, if any, aborted.
      const fence = await this.producer.transaction();
      await fence.abort();
      const state = new PartitionState(
        this.partition,
        this.deps.registry,
        this.log,
        this.deps.config.executionCacheSize,
      );
      const started = Date.now();
      let events = 0;
      await readHistoryPartitions(
        this.deps.kafka,
        this.historyTopic,
        [this.partition],
        (_, event) => {
          events++;
          state.restore(event);
        },
        this.log,
      );
      if (this.phase !== "opening") return;
      this.state = state;
      this.transition("ready");
      this.log.info(
        { events, openRuns: state.openRuns, ms: Date.now() - started },
        "partition restored",
      );
      const reopened = state.reopenBlocked();
      if (reopened.length > 0) {
        void this.serial(async () => {
          for (const run of reopened) await state.resume(run, this.clock.now());
          await this.commit(state.takeDecisions(), [], undefined);
        }).catch((err) => this.log.error({ err }, "resuming blocked runs failed"));
      }
      this.armTimer();
    } catch (err) {
      if (this.phase === "opening") this.transition("idle");
      await this.discardProducer();
      throw err;
    }
  }

  private async commit(
    decisions: Decisions,
    deadLetters: PortMessage[],
    nextOffset: string | undefined,
  ): Promise<void> {
    const producer = this.producer!;
    const topicMessages: { topic: string; messages: PortMessage[] }[] = [];
    if (decisions.events.length > 0) {
      topicMessages.push({
        topic: this.historyTopic,
        messages: decisions.events.map((event) => ({
          key: event.workflowId,
          partition: this.partition,
          value: historyCodec.encode(event),
          headers: { ...historyCodec.headers, "weft-event": event.body.type },
        })),
      });
    }
    const byQueue = new Map<string, StepTask[]>();
    for (const { queue, task } of decisions.tasks) {
      const list = byQueue.get(queue) ?? [];
      list.push(task);
      byQueue.set(queue, list);
    }
    for (const [queue, tasks] of byQueue) {
      // Tasks of this partition go to one task partition: each transaction then writes
      // commit markers to few partitions, which is most of the broker's work per decision.
      const partition = this.partition % (await this.deps.taskPartitions(queue));
      topicMessages.push({
        topic: topics.tasks(this.deps.config, queue),
        messages: tasks.map((task) => ({
          key: `${task.workflowId}/${task.stepSeq}`,
          partition,
          value: taskCodec.encode(task),
          headers: { ...taskCodec.headers },
        })),
      });
    }
    if (deadLetters.length > 0)
      topicMessages.push({
        topic: topics.dlq(this.deps.config),
        messages: deadLetters.map((m) => ({ ...m, partition: 0 })),
      });
    if (topicMessages.length === 0 && nextOffset === undefined) return;

    const tx = await producer.transaction();
    try {
      // One partition per request: see BatchingProducer for the kafkajs retry bug this avoids.
      for (const { topic, messages } of topicMessages) {
        for (const partitionMessages of byPartition(messages)) {
          await tx.sendBatch({ topicMessages: [{ topic, messages: partitionMessages }], acks: -1 });
        }
      }
      if (nextOffset !== undefined) {
        const offsets = {
          consumerGroupId: this.deps.groupId,
          topics: [
            {
              topic: this.commandsTopic,
              partitions: [{ partition: this.partition, offset: nextOffset }],
            },
          ],
        };
        await retryConcurrentTransactions(() => tx.sendOffsets(offsets));
      }
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      // The in-memory state holds decisions that did not commit: rebuild it from history.
      await this.reset(err);
      throw err;
    }
    this.deps.metrics.events.inc(decisions.events.length);
    this.deps.metrics.tasks.inc(decisions.tasks.length);
    this.countRuns(decisions);
    this.armTimer();
  }

  /** Runs started, closed and retried by this commit, labelled by workflow type (and step). */
  private countRuns(decisions: Decisions): void {
    const { metrics } = this.deps;
    // Only the counted events look their run up.
    const runOf = (workflowId: string) => this.state?.runs.get(workflowId);
    const typeOf = (workflowId: string) => runOf(workflowId)?.workflowType ?? "unknown";
    for (const { workflowId, body } of decisions.events) {
      switch (body.type) {
        case "WorkflowStarted":
          metrics.runsStarted.inc({ type: body.workflowType });
          break;
        case "WorkflowCompleted":
          metrics.runsClosed.inc({ type: typeOf(workflowId), status: "completed" });
          break;
        case "WorkflowFailed":
          metrics.runsClosed.inc({ type: typeOf(workflowId), status: "failed" });
          break;
        case "WorkflowCancelled":
          metrics.runsClosed.inc({ type: typeOf(workflowId), status: "cancelled" });
          break;
        case "StepRetryScheduled": {
          const run = runOf(workflowId);
          metrics.stepRetries.inc({
            type: run?.workflowType ?? "unknown",
            step: run?.steps.get(body.stepSeq)?.name ?? "unknown",
          });
          break;
        }
        default:
          break;
      }
    }
  }

  private async reset(cause: unknown): Promise<void> {
    this.log.warn(
      { fenced: isFencingError(cause), err: cause },
      "decision not committed; partition state discarded",
    );
    this.clearTimer();
    this.state = undefined;
    if (this.phase === "ready") this.transition("idle");
    await this.discardProducer();
  }

  private async discardProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  private armTimer(): void {
    this.clearTimer();
    const due = this.state?.timers.peekDueAt();
    if (due === undefined || this.phase !== "ready") return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      return this.serial(async () => {
        if (this.phase !== "ready" || !this.state) return;
        const state = this.state;
        const fired = await state.fireDue(this.clock.now());
        if (fired > 0) this.deps.metrics.timersFired.inc(fired);
        await this.commit(state.takeDecisions(), [], undefined);
        this.armTimer();
      }).catch((err) => {
        this.log.error({ err }, "firing timers failed; retrying after restore");
        setTimeout(() => void this.ensureOpen().catch(() => undefined), 500);
      });
    }, due - this.clock.now());
  }

  private clearTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private transition(to: OwnerPhase): void {
    if (!TRANSITIONS[this.phase].includes(to)) {
      throw new Error(`partition ${this.partition}: illegal transition ${this.phase} → ${to}`);
    }
    this.phase = to;
  }
}

function byPartition(messages: PortMessage[]): PortMessage[][] {
  const groups = new Map<number, PortMessage[]>();
  for (const m of messages) {
    const list = groups.get(m.partition ?? -1) ?? [];
    list.push(m);
    groups.set(m.partition ?? -1, list);
  }
  return [...groups.values()];
}

/** kafkajs does not retry AddOffsetsToTxn on CONCURRENT_TRANSACTIONS; the broker expects it. */
async function retryConcurrentTransactions(operation: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await operation();
      return;
    } catch (err) {
      if ((err as { type?: string }).type !== "CONCURRENT_TRANSACTIONS" || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2 * attempt, 20)));
    }
  }
}
