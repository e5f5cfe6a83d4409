import type {
  KafkaPort,
  PortConsumedMessage,
  PortDecisionLog,
  PortDecisionWriter,
  PortMessage,
  PartitionCursor,
} from "../transport/port";
import { backoffMs, type Backoff } from "../core/backoff";
import { systemClock, type Clock, type ClockTimer } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import { noFaults, type FaultSeam } from "../core/fault-points";
import { attemptPath, taskRecordKey } from "../core/ids";
import type { Logger } from "../core/logger";
import { deadLetterMessage } from "../producers/dead-letter";
import {
  commandCodec,
  decodeCommand,
  commandHeaders,
  historyCodec,
  stepCancelCodec,
  taskCodec,
  type RecordHeaders,
} from "../schemas/codec";
import type { Command, StepCancel, StepTask } from "../schemas/types";
import { readHistoryPartitions, ReadStalledError } from "../transport/history-reader";
import {
  changelogEntry,
  changelogMessages,
  LatestByKey,
  type ChangelogEntry,
} from "./run-changelog";
import { isFencingError } from "../transport/fencing";
import { withAdmin } from "../transport/topics";
import { partitionForKey } from "../transport/partitioning";
import { CommandOffsets, type AdmittedOffset } from "./command-offsets";
import { PartitionState, type Decisions } from "./partition-state";
import { encodedEvent } from "./packed-events";
import type { Registry } from "./registry";
import type { DeciderMetrics } from "./metrics";

/**
 * - down: owned, but holding no state (just assigned, or after a failure); reopens by itself
 * - opening: fencing the previous owner, restoring, moving the consumer to the committed offset
 * - ready: deciding commands and firing timers
 * - closed: revoked or stopped; never works again
 */
export type OwnerPhase = "down" | "opening" | "ready" | "closed";

/** Legal phase changes; anything else is a bug and throws. */
const TRANSITIONS: Record<OwnerPhase, readonly OwnerPhase[]> = {
  down: ["opening", "closed"],
  opening: ["ready", "down", "closed"],
  ready: ["down", "closed"],
  closed: [],
};

export type { PartitionCursor };

export interface OwnerDeps {
  kafka: KafkaPort;
  /** The partition's atomic commits and its changelog read, from the backends. */
  decisionLog: PortDecisionLog;
  config: WeftConfig;
  registry: Registry;
  log: Logger;
  groupId: string;
  metrics: DeciderMetrics;
  /** Partition count of a task queue's topic, creating the topic when it is new. */
  taskPartitions(queue: string): Promise<number>;
  /** Partitions of `weft.commands`: where a command for another run goes (by its key). */
  commandPartitions(): Promise<number>;
  cursor: PartitionCursor;
  /** The time of decisions and durable timers; default the system clock. */
  clock?: Clock;
  /** Named fault points for tests; default none. */
  faults?: FaultSeam;
  /**
   * Called after each commit with the step tasks it wrote (a worker in this process takes
   * those it can run at once; the task records stay, for any other worker should it not).
   */
  tasksCommitted?(work: CommittedWork): void;
}

/** Commands decided in one transaction at most, and pending before fetching waits. */
const MAX_BATCH = 1000;
const MAX_PENDING = 5000;
/**
 * Commands queued for the next transaction beyond which a worker in this process sends its
 * reports through Kafka rather than hand them over: the local path is for latency, when the
 * partition keeps up. Under a backlog, reports handed over one by one make many small
 * transactions (a burst of 3,000 runs took 400–600 of them, against 36 through Kafka, and ran
 * 10–25 % slower), while through Kafka they come back in the consumer's large fetches.
 */
const MAX_LOCAL_QUEUE = 16;
/** Attempts whose started report was refused, remembered until their result (oldest go first). */
const MAX_REFUSED_STARTS = 10_000;
/** No progress for this long while reading the changelog: see ReadStalledError. */
const CHANGELOG_STALL_MS = 5000;
/**
 * Reopen backoff after consecutive failures: 100 ms doubling to 1 s, with jitter. While Kafka
 * elects new leaders after a broker's loss an open fails fast (connection refused) for
 * seconds; a longer wait would leave the partition idle well after they are back, and a try
 * costs a few requests, not a restore (that comes after the fence, which is what fails).
 */
const REOPEN_BACKOFF: Backoff = { initialMs: 100, maxMs: 1000, jitter: 0.25 };
/** How often a fenced owner asks the group again whether the partition is still its own. */
const HOLD_RECHECK_MS = 1000;

interface PendingCommand extends AdmittedOffset {
  message: PortConsumedMessage;
}

/**
 * A command handed over in this process (a step report from the worker beside this decider)
 * rather than read from `weft.commands`: it holds no offset, and its sender learns whether the
 * transaction that applied it committed (true) or not (false: it sends the command through
 * Kafka instead, where a copy already applied is a stale report the state ignores).
 */
interface LocalCommand {
  command: Command;
  settle(committed: boolean): void;
}

/** A task this owner's commit wrote, for a worker in this process that may run it at once. */
export interface CommittedTask {
  queue: string;
  /** The task topic's partition it was written to. */
  partition: number;
  task: StepTask;
}

/** What one commit wrote to the task topics, for a worker in this process. */
export interface CommittedWork {
  tasks: readonly CommittedTask[];
  /** Cancel notices of running attempts (their run was cancelled). */
  cancels: readonly StepCancel[];
}

/**
 * Owns one partition of `weft.commands` while the group assigns it here. A transactional
 * producer whose ID names the partition fences any previous owner; every decision (history,
 * tasks, dead letters, consumed offset) commits in one transaction. Commands and timers of the
 * partition run one at a time through `serial`.
 *
 * Any failure (a commit, a restore, a rewind, a record at an unexpected offset) drops the
 * state and reopens from the committed offset, with backoff, whether or not more commands
 * arrive. Every piece of work carries the epoch it began in; a reset or a revoke bumps the
 * epoch, and work of an older epoch stops without deciding, committing or logging errors.
 */
export class PartitionOwner {
  private phase: OwnerPhase = "down";
  private epoch = 0;
  private state: PartitionState | undefined;
  private producer: PortDecisionWriter | undefined;
  /** See `submit`: attempts whose started report went through Kafka. */
  private readonly refusedStarts = new Set<string>();
  private opening: Promise<void> | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /**
   * Fenced by another producer: the partition reopens only once the group says it is still
   * this member's. A process whose group session lapsed (under load) learns it from a fenced
   * commit before its consumer hears of the rebalance; reopening then would fence the rightful
   * owner, which would reopen and fence it in turn until the group settled (seen in a chaos
   * run: ten seconds of the two fencing each other).
   */
  private confirmHold = false;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: ClockTimer | undefined;
  private pending: PendingCommand[] = [];
  private local: LocalCommand[] = [];
  private readonly offsets = new CommandOffsets();
  /** Every command below this offset is applied to `state` (committed or in the batch at hand). */
  private appliedTo = 0n;
  /** Due timers wait until every command the broker held at `at` (below `end`) is applied. */
  private fireGate: { at: number; end: bigint } | undefined;
  private draining: Promise<void> | undefined;
  private readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private downSince: number | undefined = Date.now();
  private readonly log: Logger;
  private readonly commandsTopic: string;
  private readonly historyTopic: string;
  private readonly changelogTopic: string;
  private readonly clock: Clock;
  private readonly faults: FaultSeam;

  constructor(
    readonly partition: number,
    private readonly deps: OwnerDeps,
  ) {
    this.log = deps.log.child({ partition });
    this.commandsTopic = topics.commands(deps.config);
    this.historyTopic = topics.history(deps.config);
    this.changelogTopic = topics.changelog(deps.config);
    this.clock = deps.clock ?? systemClock;
    this.faults = deps.faults ?? noFaults;
  }

  get isReady(): boolean {
    return this.phase === "ready";
  }

  /** Another owner's open fenced this one's producer, and the group has not confirmed it since. */
  get fencedSinceOpen(): boolean {
    return this.confirmHold;
  }

  get currentPhase(): OwnerPhase {
    return this.phase;
  }

  /** Seconds this owned partition has been without state (0 when ready). */
  get notReadySeconds(): number {
    return this.downSince === undefined ? 0 : (Date.now() - this.downSince) / 1000;
  }

  get openRuns(): number {
    return this.state?.openRuns ?? 0;
  }

  get pendingTimers(): number {
    return this.state?.timers.size ?? 0;
  }

  /** The offset below which every command of the partition is decided and committed. */
  get committedOffset(): bigint {
    return this.offsets.committed;
  }

  /** Opens now unless it is open or opening; resolves once ready, rejects if this try fails. */
  ensureOpen(): Promise<void> {
    if (this.phase === "ready") return Promise.resolve();
    if (this.phase === "closed")
      return Promise.reject(new Error(`partition ${this.partition} is closed`));
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    return this.open().then(() => {
      if (this.phase !== "ready")
        throw new Error(`partition ${this.partition} could not be opened; retrying`);
    });
  }

  /** Resolves when the partition is ready (however many tries that takes). */
  whenReady(): Promise<void> {
    if (this.phase === "ready") return Promise.resolve();
    if (this.phase === "closed")
      return Promise.reject(new Error(`partition ${this.partition} is closed`));
    if (this.phase === "down" && !this.reopenTimer && !this.opening) this.scheduleOpen(0);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Begins owning: opens eagerly so timers fire even when no command arrives. */
  start(): void {
    if (this.phase === "down") this.scheduleOpen(0);
  }

  /**
   * Takes a fetched batch of commands. They are decided and committed in the background,
   * together with whatever else arrives meanwhile (group commit), so fetching never waits on a
   * transaction. Resolves at once unless too much is pending. Records fetched while the
   * partition is not ready are dropped: the next open seeks back to the committed offset.
   */
  async accept(
    messages: readonly PortConsumedMessage[],
    fetched?: { first: bigint; last: bigint },
  ): Promise<void> {
    if (this.phase !== "ready") return;
    const epoch = this.epoch;
    if (fetched) this.offsets.fetched(fetched.first, fetched.last);
    for (const message of messages) {
      const admission = this.offsets.admit(BigInt(message.offset));
      if (admission.kind === "duplicate") continue;
      if (admission.kind === "gap") {
        this.reset(
          new Error(
            `expected command offset ${admission.expected}, fetched ${admission.fetched}: commands were skipped on the way`,
          ),
          "offset-gap",
        );
        return;
      }
      this.pending.push({ message, offset: BigInt(message.offset), from: admission.from });
    }
    this.kick();
    while (this.pending.length > MAX_PENDING && this.epoch === epoch) await this.draining;
  }

  /**
   * The consumer fetched a range holding only records it filters out (a transaction marker,
   * an aborted transaction): a record after it does not mean commands were skipped.
   */
  fetchedFiltered(first: bigint, last: bigint): void {
    if (this.phase === "ready") this.offsets.fetched(first, last);
  }

  /**
   * Decides `command` (for a run of this partition) in the next transaction, with whatever
   * else is pending. Resolves true once that transaction committed; false when the partition
   * is not ready here, has a backlog (MAX_LOCAL_QUEUE) or the transaction failed: the sender
   * then sends it through Kafka.
   */
  submit(command: Command): Promise<boolean> {
    const { body } = command;
    const attempt =
      body.type === "ReportStepStarted" ||
      body.type === "ReportStepCompleted" ||
      body.type === "ReportStepFailed"
        ? attemptPath({
            workflowId: command.workflowId,
            stepSeq: body.stepSeq,
            attempt: body.attempt,
          })
        : undefined;
    // The result of an attempt whose started report was refused goes through Kafka too,
    // after it: decided here first, it would make the started report stale (dropped), and the
    // step's start would be missing from history.
    if (
      attempt !== undefined &&
      body.type !== "ReportStepStarted" &&
      this.refusedStarts.has(attempt)
    ) {
      this.refusedStarts.delete(attempt);
      return Promise.resolve(false);
    }
    const started = body.type === "ReportStepStarted" ? attempt : undefined;
    if (this.phase !== "ready" || this.pending.length + this.local.length >= MAX_LOCAL_QUEUE) {
      this.startRefused(started);
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (committed: boolean) => {
        if (settled) return;
        settled = true;
        // Not committed (the transaction failed, the partition was dropped): the sender sends
        // it through Kafka, as it would a refused one.
        if (!committed) this.startRefused(started);
        resolve(committed);
      };
      this.local.push({ command, settle });
      this.kick();
    });
  }

  /** Remembers the attempt of a started report that goes through Kafka (see `submit`). */
  private startRefused(attempt: string | undefined): void {
    if (attempt === undefined) return;
    this.refusedStarts.add(attempt);
    if (this.refusedStarts.size > MAX_REFUSED_STARTS)
      this.refusedStarts.delete(this.refusedStarts.values().next().value!);
  }

  /** Resolves when everything accepted so far is committed, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.draining || this.hasWork()) && Date.now() < deadline) {
      await Promise.race([this.draining, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  close(): Promise<void> {
    if (this.phase === "closed") return Promise.resolve();
    this.epoch++;
    this.transition("closed");
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.dropState();
    this.downSince = undefined;
    for (const waiter of this.readyWaiters.splice(0))
      waiter.reject(new Error(`partition ${this.partition} is closed`));
    // An open in flight sees the new epoch at its next step and returns; only then is its
    // producer (or the one decisions use) closed, so nothing connects again after the close.
    const settled = Promise.all([this.chain, this.opening]).then(
      () => undefined,
      () => undefined,
    );
    return settled.then(async () => {
      const producer = this.producer;
      this.producer = undefined;
      await producer?.disconnect().catch(() => undefined);
    });
  }

  private kick(): void {
    if (this.draining || !this.hasWork() || this.phase !== "ready") return;
    const epoch = this.epoch;
    this.draining = this.serial(() => this.drain(epoch))
      .catch((err) => this.fail(epoch, err, "decision-not-committed"))
      .finally(() => {
        this.draining = undefined;
        this.kick();
      });
  }

  private async drain(epoch: number): Promise<void> {
    while (this.epoch === epoch && this.hasWork()) {
      const linger = this.deps.config.deciderLingerMs;
      // Only commands from Kafka linger (more may be on their way in the same fetch): one
      // handed over here is a step's report, and its next step waits on this commit.
      if (linger > 0 && this.local.length === 0 && this.pending.length < MAX_BATCH)
        await new Promise((r) => setTimeout(r, linger));
      // Reports handed over within one turn of the event loop (a quick step's started and
      // result reports, steps ending together) go in one transaction: taken one by one,
      // each would wait for the commit of the one before.
      else if (this.local.length > 0) await new Promise((r) => setImmediate(r));
      if (this.epoch !== epoch) return;
      const batch = this.pending.splice(0, MAX_BATCH);
      const local = this.local.splice(0, MAX_BATCH);
      try {
        await this.decideAndCommit(epoch, batch, local);
      } catch (err) {
        // The state is dropped before the senders hear: one that asks finds it not ready.
        this.fail(epoch, err, "decision-not-committed");
        return;
      } finally {
        // Whatever did not commit (a failure, a revoke) is sent through Kafka by its sender.
        for (const item of local) item.settle(false);
      }
      await this.fireIfCaughtUp(epoch);
    }
  }

  private hasWork(): boolean {
    return this.pending.length > 0 || this.local.length > 0;
  }

  private async decideAndCommit(
    epoch: number,
    batch: PendingCommand[],
    local: readonly LocalCommand[] = [],
  ): Promise<void> {
    const state = this.state;
    if (!state || this.epoch !== epoch) return;
    const now = this.clock.now();
    const decidingAt = Date.now();
    for (const { message } of batch) {
      const producedAt = Number(message.timestamp);
      if (producedAt > 0) this.deps.metrics.commandWait.observe((decidingAt - producedAt) / 1000);
    }
    for (const { command } of local)
      this.deps.metrics.commandWait.observe(Math.max(0, decidingAt - command.sentAt) / 1000);
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
    // Commands handed over here first: each was handed over before any report of the same
    // attempt that came through Kafka since (a started report here, its result refused for a
    // long queue and sent through Kafka). Decided after it, the started report would be stale
    // and dropped, and history would miss the step's start. (A result is never handed over
    // after its started report went through Kafka: see `submit`.)
    // A local command that cannot be applied is not committed here: its sender sends it
    // through Kafka, where it fails the same way and goes to the DLQ like any other.
    const applied: LocalCommand[] = [];
    for (const item of local) {
      try {
        await state.apply(item.command, now);
        applied.push(item);
      } catch (err) {
        if (this.epoch !== epoch) return;
        this.log.warn(
          { err, workflowId: item.command.workflowId },
          "a command handed over in this process could not be applied; its sender sends it through Kafka",
        );
      }
      if (this.epoch !== epoch) return;
    }
    for (const { message } of batch) {
      let command;
      try {
        command = decodeCommand(message.value, message.headers);
      } catch (err) {
        toDlq(message, (err as Error).message);
        continue;
      }
      try {
        await state.apply(command, now);
      } catch (err) {
        if (this.epoch !== epoch) return;
        // A command the decider cannot apply must not stop the partition.
        this.log.error({ err, workflowId: command.workflowId }, "command could not be applied");
        toDlq(message, `decider could not apply it: ${(err as Error).message}`);
      }
      if (this.epoch !== epoch) return;
    }
    const last = batch[batch.length - 1];
    if (last) this.appliedTo = last.offset + 1n;
    const committed = await this.commit(
      epoch,
      state.takeDecisions(),
      deadLetters,
      batch.length > 0 ? batch : undefined,
    );
    if (this.epoch !== epoch) return;
    // Only a committed transaction shows that this process still holds the partition: a
    // decider whose partition was given to another process (its group session lapsed under
    // load; the other fenced its producer) learns it at its next commit. A report it drops
    // (its run is unknown here: the new owner started it) writes nothing and commits nothing;
    // taken as recorded, the worker would mark its attempt done and the run would wait for
    // ever. Sent through Kafka instead, the partition's owner decides it (seen in a chaos run:
    // two runs stranded so).
    for (const item of applied) item.settle(committed);
    this.deps.metrics.commands.inc(batch.length + (committed ? applied.length : 0));
    if (committed && applied.length > 0) this.deps.metrics.localCommands.inc(applied.length);
  }

  private open(): Promise<void> {
    this.opening ??= this.openOnce().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    if (this.phase !== "down") return;
    if (this.confirmHold && !(await this.stillHeld())) return;
    this.transition("opening");
    const epoch = this.epoch;
    const live = () => this.epoch === epoch && this.phase === "opening";
    const { cursor } = this.deps;
    // Where an open spends its time, for the log line below: failover is mostly this.
    const openedAt = Date.now();
    const took: Record<string, number> = {};
    const lap = (phase: string) => (took[phase] = Date.now() - openedAt);
    try {
      // Nothing is decided until the consumer stands at the committed offset again.
      this.pauseFetching();
      const transactionalId = `${this.deps.config.topicPrefix}.decider.p${this.partition}`;
      const producer = this.deps.decisionLog.writer(transactionalId);
      this.producer = producer;
      // The previous owner is now fenced and its open transaction, if any, aborted.
      await producer.connect();
      lap("fencedMs");
      if (!live()) return;
      const { dedupeRetentionMs } = this.deps.config;
      const state = new PartitionState(this.partition, this.deps.registry, this.log, {
        executionCacheSize: this.deps.config.executionCacheSize,
        dedupeRetentionMs: dedupeRetentionMs < 0 ? Number.POSITIVE_INFINITY : dedupeRetentionMs,
      });
      const started = Date.now();
      let events = 0;
      let source = "changelog";
      // Both only after the fence, so neither sees the previous owner's half-done commit; side
      // by side, because after a broker's loss each waits on a coordinator moving elsewhere.
      const [committed] = await Promise.all([
        (async () => {
          await this.faults.at("decider.committed-offset");
          // None committed yet: the partition's commands are all still to decide.
          const offset = (await cursor.committedOffset(this.partition)) ?? 0n;
          lap("committedMs");
          return offset;
        })(),
        (async () => {
          await this.faults.at("decider.restore");
          const restored = await this.restore(state, live, lap);
          events = restored.records;
          source = restored.source;
          lap("restoredMs");
        })(),
      ]);
      if (!live()) return;
      await this.faults.at("decider.seek");
      cursor.seek(this.partition, committed);
      this.offsets.openAt(committed);
      this.appliedTo = committed;
      this.state = state;
      this.transition("ready");
      this.downSince = undefined;
      this.resumeFetching();
      this.log.info(
        {
          records: events,
          from: source,
          openRuns: state.openRuns,
          closedRuns: state.closed.size,
          committed: String(committed),
          ms: Date.now() - started,
          ...took,
        },
        "partition restored",
      );
      for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
      const reopened = state.reopenBlocked();
      if (reopened.length > 0) {
        void this.serial(async () => {
          if (this.epoch !== epoch) return;
          for (const run of reopened) await state.resume(run, this.clock.now());
          await this.commit(epoch, state.takeDecisions(), [], undefined);
        }).catch((err) => this.fail(epoch, err, "resume-blocked"));
      }
      this.armTimer();
    } catch (err) {
      if (!live()) return;
      this.failures++;
      const delay = this.backoff();
      this.log.warn(
        { err, retryInMs: delay, failures: this.failures },
        "could not open the partition; retrying",
      );
      this.transition("down");
      await this.discardProducer();
      this.scheduleOpen(delay);
    }
  }

  /** After a fence: whether the group still gives the partition here (else a recheck is set). */
  private async stillHeld(): Promise<boolean> {
    let held: boolean;
    try {
      held = await this.deps.cursor.holds(this.partition);
    } catch (err) {
      // Unanswered (a coordinator moving, a missing ACL): the open's own fence decides.
      this.log.debug({ err }, "could not ask the group who holds the partition; reopening");
      held = true;
    }
    if (this.phase !== "down") return false;
    if (held) {
      this.confirmHold = false;
      return true;
    }
    this.deps.metrics.reopensDeferred.inc();
    this.log.info(
      { retryInMs: HOLD_RECHECK_MS },
      "the group gives the partition to another member or is rebalancing; not reopened",
    );
    this.scheduleOpen(HOLD_RECHECK_MS);
    return false;
  }

  /** Whether the partition's history still holds its first record (no retention cut it). */
  private async historyComplete(): Promise<boolean> {
    const offsets = await withAdmin(this.deps.kafka, (admin) =>
      admin.fetchTopicOffsets(this.historyTopic),
    );
    return offsets.find((o) => o.partition === this.partition)?.low === "0";
  }

  /**
   * Rebuilds the partition's open runs (and the IDs of its closed ones) from the changelog.
   * A partition whose changelog was never built (its first open after an upgrade) restores
   * from history once and writes the changelog that serves from then on, in a transaction
   * of this epoch's producer, before anything is decided.
   */
  private async restore(
    state: PartitionState,
    live: () => boolean,
    lap: (phase: string) => void,
  ): Promise<{ records: number; source: "changelog" | "history" }> {
    const latest = new LatestByKey();
    try {
      await this.faults.at("decider.changelog-read");
      await this.deps.decisionLog.readCompacted(
        this.changelogTopic,
        [this.partition],
        (_, message) => {
          if (live()) latest.add(message);
        },
        60_000,
        CHANGELOG_STALL_MS,
      );
    } catch (err) {
      if (!(err instanceof ReadStalledError)) throw err;
      // The read stopped moving short of its end (the compacted reader's last resort; the
      // consumer-group reader at an empty batch); history holds everything the changelog
      // does, so this open restores from it (as before the changelog, at that cost) and the
      // partition goes on. Unless history no longer starts at offset 0 (a retention set with
      // WEFT_HISTORY_RETENTION_MS cut it): restoring from what is left would lose the open
      // runs whose start is gone, so the open fails and is tried again, the changelog first.
      latest.clear();
      if (!(await this.historyComplete())) {
        this.deps.metrics.partitionResets.inc({ reason: "changelog-unreadable" });
        throw new Error(
          `the changelog of partition ${this.partition} could not be read to its end, and ` +
            `history no longer starts at offset 0 (WEFT_HISTORY_RETENTION_MS): not restoring ` +
            `from part of it; the open will be tried again (${(err as Error).message})`,
        );
      }
      this.log.warn({ err }, "changelog unreadable; restoring the partition from history");
      this.deps.metrics.partitionResets.inc({ reason: "changelog-unreadable" });
      return this.restoreFromHistory(state, live);
    }
    lap("readMs");
    const { records } = latest;
    let built = false;
    const entries: ChangelogEntry[] = [];
    for (const message of latest.messages()) {
      try {
        const entry = changelogEntry(message);
        if (entry?.kind === "partition") built = true;
        if (entry) entries.push(entry);
      } catch (err) {
        this.log.error({ offset: message.offset, err }, "changelog record skipped");
      }
    }
    if (live()) state.restoreChangelog(entries);
    latest.clear();
    if (built || !live()) return { records, source: "changelog" };
    if (records > 0) {
      throw new Error(
        `the changelog of partition ${this.partition} has ${records} records but no partition record`,
      );
    }
    const { records: events } = await this.restoreFromHistory(state, live);
    const producer = this.producer;
    if (!live() || !producer) return { records: events, source: "history" };
    const messages = state
      .changelogSnapshot(this.clock.now())
      .flatMap((entry) => changelogMessages(entry, this.partition));
    await producer.commit({ records: [{ topic: this.changelogTopic, messages }] });
    this.log.info(
      { events, openRuns: state.openRuns, closedRuns: state.closed.size },
      "changelog built from history",
    );
    return { records: events, source: "history" };
  }

  /** Rebuilds the partition's state from its whole history (the changelog's fallback). */
  private async restoreFromHistory(
    state: PartitionState,
    live: () => boolean,
  ): Promise<{ records: number; source: "history" }> {
    let events = 0;
    await readHistoryPartitions(
      this.deps.kafka,
      this.historyTopic,
      [this.partition],
      (_, event) => {
        if (!live()) return;
        events++;
        state.restore(event);
      },
      this.log,
    );
    return { records: events, source: "history" };
  }

  /** Resolves true when a transaction committed; false when there was nothing to write. */
  private async commit(
    epoch: number,
    decisions: Decisions,
    deadLetters: PortMessage[],
    batch: readonly AdmittedOffset[] | undefined,
  ): Promise<boolean> {
    if (this.epoch !== epoch) return false;
    // The one place a consumed offset is chosen: only a batch that continues exactly from
    // the committed offset can move it.
    const nextOffset = batch ? this.offsets.commitOffset(batch) : undefined;
    const topicMessages: { topic: string; messages: PortMessage[] }[] = [];
    if (decisions.events.length > 0) {
      topicMessages.push({
        topic: this.historyTopic,
        messages: decisions.events.map((event) => ({
          key: event.workflowId,
          partition: this.partition,
          value: encodedEvent(event),
          headers: { ...historyCodec.headers, "weft-event": event.body.type },
        })),
      });
    }
    if (decisions.changes.length > 0) {
      topicMessages.push({
        topic: this.changelogTopic,
        messages: decisions.changes.flatMap((entry) => changelogMessages(entry, this.partition)),
      });
    }
    const byQueue = new Map<string, { key: string; value: Buffer; headers: RecordHeaders }[]>();
    const toQueue = (
      queue: string,
      record: { key: string; value: Buffer; headers: RecordHeaders },
    ) => {
      const list = byQueue.get(queue) ?? [];
      list.push(record);
      byQueue.set(queue, list);
    };
    for (const { queue, task } of decisions.tasks) {
      toQueue(queue, {
        key: taskRecordKey(task),
        value: taskCodec.encode(task),
        headers: { ...taskCodec.headers },
      });
    }
    // A cancel notice goes where its attempt's task went (the same key and partition), so the
    // consumer that took the task reads the notice after it.
    for (const { queue, cancel } of decisions.cancels) {
      toQueue(queue, {
        key: taskRecordKey(cancel),
        value: stepCancelCodec.encode(cancel),
        headers: { ...stepCancelCodec.headers },
      });
    }
    const taskPartition = new Map<string, number>();
    for (const [queue, records] of byQueue) {
      // Tasks of this partition go to one task partition: each transaction then writes
      // commit markers to few partitions, which is most of the broker's work per decision.
      const partition = this.partition % (await this.deps.taskPartitions(queue));
      taskPartition.set(queue, partition);
      topicMessages.push({
        topic: topics.tasks(this.deps.config, queue),
        messages: records.map((record) => ({ ...record, partition })),
      });
    }
    if (decisions.commands.length > 0) {
      // Commands for other runs (a child's start, a child's close for its parent): on the
      // partition each run's commands go to, as CommandProducer sends them.
      const partitions = await this.deps.commandPartitions();
      topicMessages.push({
        topic: this.commandsTopic,
        messages: decisions.commands.map((command) => ({
          key: command.workflowId,
          partition: partitionForKey(this.commandsTopic, command.workflowId, partitions),
          value: commandCodec.encode(command),
          headers: commandHeaders(command),
        })),
      });
    }
    if (deadLetters.length > 0)
      topicMessages.push({
        topic: topics.dlq(this.deps.config),
        messages: deadLetters.map((m) => ({ ...m, partition: 0 })),
      });
    if (topicMessages.length === 0 && nextOffset === undefined) return false;

    await this.faults.at("decider.before-commit");
    const producer = this.producer;
    if (this.epoch !== epoch || !producer) return false;
    const sendingAt = Date.now();
    const consumed =
      nextOffset === undefined
        ? undefined
        : {
            groupId: this.deps.groupId,
            topic: this.commandsTopic,
            partition: this.partition,
            offset: nextOffset,
          };
    try {
      await producer.commit({ records: topicMessages, consumed }, async () => {
        // Revoked while sending: leave the transaction to abort rather than commit.
        if (this.epoch !== epoch) throw new RevokedDuringCommit();
        await this.faults.at("decider.commit");
      });
    } catch (err) {
      if (err instanceof RevokedDuringCommit) return false;
      throw err;
    }
    this.deps.metrics.commitDuration.observe((Date.now() - sendingAt) / 1000);
    if (nextOffset !== undefined) this.offsets.committedThrough(nextOffset);
    this.failures = 0;
    if (this.deps.tasksCommitted && (decisions.tasks.length > 0 || decisions.cancels.length > 0)) {
      this.deps.tasksCommitted({
        tasks: decisions.tasks.map(({ queue, task }) => ({
          queue,
          partition: taskPartition.get(queue)!,
          task,
        })),
        cancels: decisions.cancels.map(({ cancel }) => cancel),
      });
    }
    this.deps.metrics.events.inc(decisions.events.length);
    this.deps.metrics.tasks.inc(decisions.tasks.length);
    this.countRuns(decisions);
    this.armTimer();
    return true;
  }

  /** Runs started, closed and retried by this commit, labelled by workflow type (and step). */
  private countRuns(decisions: Decisions): void {
    const { metrics } = this.deps;
    // Only the counted events look their run up.
    const runOf = (workflowId: string) => this.state?.runs.get(workflowId);
    // A closed run has left the state; its changelog marker names its type.
    const closedTypes = new Map<string, string>();
    for (const entry of decisions.changes)
      if (entry.kind === "closed" && entry.marker.workflowType)
        closedTypes.set(entry.workflowId, entry.marker.workflowType);
    const typeOf = (workflowId: string) =>
      closedTypes.get(workflowId) ?? runOf(workflowId)?.workflowType ?? "unknown";
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
        case "WorkflowContinuedAsNew":
          metrics.runsClosed.inc({ type: typeOf(workflowId), status: "continued" });
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

  /** Work of `epoch` failed: unless that epoch is over already, drop the state and reopen. */
  private fail(epoch: number, err: unknown, reason: string): void {
    if (this.epoch !== epoch) {
      this.log.debug({ err, reason }, "work of a previous epoch failed; ignored");
      return;
    }
    this.reset(err, reason);
  }

  /**
   * The in-memory state may hold decisions that did not commit, or the consumer may stand
   * anywhere: drop both and reopen from the committed offset.
   */
  private reset(cause: unknown, reason: string): void {
    if (this.phase !== "ready") return;
    this.epoch++;
    this.failures++;
    // Fenced: another decider opened the partition, and the rebalance that revokes it here is
    // on its way. Reopening at once would fence that owner in turn.
    const fenced = isFencingError(cause);
    if (fenced) this.confirmHold = true;
    const delay = fenced
      ? Math.max(this.backoff(), this.deps.config.deciderSessionTimeoutMs)
      : this.backoff();
    this.deps.metrics.partitionResets.inc({ reason: fenced ? "fenced" : reason });
    this.log.warn(
      { reason, fenced, err: cause, retryInMs: delay },
      "partition state discarded; reopening from the committed offset",
    );
    this.dropState();
    this.transition("down");
    this.downSince = Date.now();
    this.pauseFetching();
    void this.discardProducer();
    this.scheduleOpen(delay);
  }

  private dropState(): void {
    this.clearTimer();
    this.state = undefined;
    this.pending = [];
    for (const item of this.local.splice(0)) item.settle(false);
    this.fireGate = undefined;
  }

  private backoff(): number {
    return this.failures === 0 ? 0 : backoffMs(REOPEN_BACKOFF, this.failures);
  }

  private scheduleOpen(delayMs: number): void {
    if (this.phase !== "down" || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.open();
    }, delayMs);
  }

  private pauseFetching(): void {
    try {
      this.deps.cursor.pause(this.partition);
    } catch (err) {
      // Records fetched meanwhile are dropped, and the open seeks back anyway.
      this.log.debug({ err }, "could not pause the partition");
    }
  }

  private resumeFetching(): void {
    try {
      this.deps.cursor.resume(this.partition);
    } catch (err) {
      this.log.debug({ err }, "could not resume the partition");
    }
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
    this.setTimer(due - this.clock.now());
  }

  private setTimer(delayMs: number): void {
    const epoch = this.epoch;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      return this.serial(() => this.onTimer(epoch)).catch((err) =>
        this.fail(epoch, err, "timer-not-committed"),
      );
    }, delayMs);
  }

  /**
   * A timer is due. It fires only once every command the broker had appended by now is
   * applied (event time, invariant 5): a signal acknowledged before a wait's deadline is
   * decided before that wait's timeout, however far the decider lags.
   */
  private async onTimer(epoch: number): Promise<void> {
    if (this.epoch !== epoch || !this.state) return;
    if (!this.fireGate) {
      const at = this.clock.now();
      let end: bigint;
      try {
        await this.faults.at("decider.end-offset");
        end = await this.deps.cursor.endOffset(this.partition);
      } catch (err) {
        if (this.epoch !== epoch) return;
        this.log.warn({ err }, "could not read the partition's end offset; timers wait");
        this.setTimer(backoffMs(REOPEN_BACKOFF, this.failures + 1));
        return;
      }
      if (this.epoch !== epoch) return;
      this.fireGate = { at, end };
    }
    await this.fireIfCaughtUp(epoch);
  }

  private async fireIfCaughtUp(epoch: number): Promise<void> {
    const gate = this.fireGate;
    const state = this.state;
    if (!gate || !state || this.epoch !== epoch) return;
    // Commands still to come in first: the drain calls again after applying them.
    // Offsets past the last command that hold none (commit markers) count as applied once
    // every command before them is.
    // (A batch's commit may take the markers after it: its committed offset is applied too.)
    const decided =
      this.appliedTo > this.offsets.committed ? this.appliedTo : this.offsets.committed;
    const applied =
      decided >= this.offsets.next && this.pending.length === 0 ? this.offsets.covered : decided;
    if (applied < gate.end) return;
    this.fireGate = undefined;
    const fired = await state.fireDue(gate.at);
    if (this.epoch !== epoch) return;
    if (fired > 0) this.deps.metrics.timersFired.inc(fired);
    await this.commit(epoch, state.takeDecisions(), [], undefined);
    this.armTimer();
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

/** The partition was revoked between sending and committing: the transaction is aborted. */
class RevokedDuringCommit extends Error {}
