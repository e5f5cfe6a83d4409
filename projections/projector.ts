import type { Registry } from "prom-client";
import type {
  KafkaPort,
  PortBatch,
  PortConsumer,
  PortEachBatchPayload,
  PortProducer,
} from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { dependencyOf, untilAvailable, type WaitOptions } from "../core/until-available";
import { ConsumerKeeper } from "../transport/consumer-keeper";
import { deadLetterMessage } from "../producers/dead-letter";
import type { HistoryEvent } from "../schemas/types";
import { ensureTopics, withAdmin } from "../transport/topics";
import { isDataError } from "./database-errors";
import { checkSchema } from "./migrate";
import type { ReadModelDb } from "./read-model-db";
import {
  projectBatch,
  type BatchInput,
  type BatchOutcome,
  type DeadRecord,
  type ProjectedSource,
} from "./project-batch";
import { ProjectorHealth } from "./projector-health";
import { createProjectorMetrics, type ProjectorMetrics } from "./projector-metrics";
import { readOffsets, type OffsetKey } from "./tables/offsets";

/** What one committed transaction changed; handed to `onCommitted` after the COMMIT. */
export interface CommittedChanges {
  /** The topic the batch came from: history, registrations, commands or step logs. */
  readonly topic: string;
  /** The batch's partition of `topic`. */
  readonly partition: number;
  /** Runs whose rows changed, in the order their first event came (pending runs too). */
  readonly workflowIds: readonly string[];
  /** The history events projected, in order (none for the other topics). */
  readonly events: readonly HistoryEvent[];
  /** Processes whose rows changed (registrations). */
  readonly processIds: readonly string[];
}

export interface ProjectorOptions {
  config: WeftConfig;
  kafka: KafkaPort;
  /**
   * The read models (PostgreSQL: one connection per partition it projects at once; SQLite:
   * batches take turns on the one writer).
   */
  db: ReadModelDb;
  logger: Logger;
  /** Called after each commit; errors are logged and never stop projecting. Keep it quick. */
  onCommitted?: (changes: CommittedChanges) => void | Promise<void>;
  /** How often to look for read models emptied under a running projector; default 1000 ms. */
  rewindCheckMs?: number;
  /**
   * The process's readiness: while the projector waits for PostgreSQL or Kafka (at start, or
   * while a batch cannot be written) /readyz says so. Default: a readiness of its own.
   */
  readiness?: Readiness;
  /** Aborting it stops a start that still waits for a dependency (start rejects with STOPPED). */
  signal?: AbortSignal;
  /** Where its metrics go (the process's registry); default a registry of its own. */
  metricsRegistry?: Registry;
}

export const projectorGroup = (config: WeftConfig) => `${config.topicPrefix}.projector`;

/**
 * A member of the `<prefix>.projector` consumer group over `weft.history`, `weft.registrations`
 * (definitions and processes), `weft.commands` (starts only: pending runs) and
 * `weft.step-logs` (each attempt's `step.log` lines): it builds the
 * read models (PostgreSQL or SQLite), exactly once. Each batch of a partition commits in one
 * transaction with the partition's next offset; Kafka's committed offsets are never used.
 * On every assignment each partition is sought to the offset stored in the read models.
 *
 * `replay projections` may run while projectors run: a projector finds its stored offset went
 * back (in its next transaction, or within `rewindCheckMs` when idle) and reads again from it.
 *
 * It never wedges on a record: one the database will not take goes to the DLQ with the reason
 * and the partition carries on. Whether each partition gets its batches through is in
 * `health` (for /readyz, the `weft_projector_*` metrics and the API's `projectors`).
 */
export class Projector {
  readonly groupId: string;
  /** How its partitions fare: stalled ones, and the records it sent to the DLQ. */
  readonly health: ProjectorHealth;
  private readonly metrics: ProjectorMetrics;
  /** The topics read, each with what it feeds. */
  private readonly sources: ReadonlyMap<string, ProjectedSource>;
  private readonly historyTopic: string;
  private readonly log: Logger;
  private consumer: PortConsumer | undefined;
  private keeper: ConsumerKeeper | undefined;
  private dlq: PortProducer | undefined;
  private readonly readiness: Readiness;
  private readonly stopping = new AbortController();
  /** Shown on /readyz while batches fail to project (PostgreSQL unreachable, most often). */
  private readonly projectWait = Symbol("project");
  /** Per assigned topic-partition: the offset this projector believes is stored in the read models. */
  private readonly expected = new Map<string, bigint>();
  /** Per topic-partition: bumped by every seek, so a batch fetched before it is known stale. */
  private readonly epochs = new Map<string, number>();
  private assigned: readonly TopicPartition[] = [];
  private generation = 0;
  private positioning: Promise<void> = Promise.resolve();
  private rewindTimer: NodeJS.Timeout | undefined;
  private checkingRewind = false;
  private joined: () => void = () => undefined;
  private readonly hasJoined = new Promise<void>((resolve) => (this.joined = resolve));

  constructor(private readonly options: ProjectorOptions) {
    this.groupId = projectorGroup(options.config);
    this.historyTopic = topics.history(options.config);
    this.sources = new Map<string, ProjectedSource>([
      [this.historyTopic, "history"],
      [topics.registrations(options.config), "registrations"],
      [topics.commands(options.config), "commands"],
      [topics.stepLogs(options.config), "stepLogs"],
    ]);
    this.log = options.logger.child({ role: "projector" });
    this.readiness = options.readiness ?? new Readiness();
    this.health = new ProjectorHealth({ stallAfterMs: options.config.projectorStallMs });
    this.metrics = createProjectorMetrics(this.health, options.metricsRegistry);
    const { signal } = options;
    if (signal?.aborted) this.stopping.abort();
    else signal?.addEventListener("abort", () => this.stopping.abort(), { once: true });
  }

  /** Partitions of history this projector owns now. */
  get assignedPartitions(): number[] {
    return this.assigned
      .filter((tp) => tp.topic === this.historyTopic)
      .map((tp) => tp.partition)
      .sort((a, b) => a - b);
  }

  /**
   * Refuses a database whose schema is not the one this Weft knows: run `weft migrate` first.
   * While PostgreSQL or Kafka is unreachable it waits, retrying with backoff (and /readyz says
   * so); stopped meanwhile, it rejects with RoleStoppedError.
   */
  async start(): Promise<void> {
    const { config, kafka, db } = this.options;
    const wait: WaitOptions = {
      role: "projector",
      log: this.log,
      readiness: this.readiness,
      signal: this.stopping.signal,
    };
    const version = await untilAvailable(wait, "postgres", "read the schema version", () =>
      checkSchema(db),
    );
    await untilAvailable(wait, "kafka", "create the topics", () =>
      withAdmin(kafka, (admin) => ensureTopics(admin, config)),
    );
    const dlq = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.dlq = dlq;
    await untilAvailable(wait, "kafka", "connect the DLQ producer", () => dlq.connect());
    const consumer = kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 100,
      // Larger fetches make larger transactions when the projector is behind.
      maxBytesPerPartition: 4 * 1024 * 1024,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(!this.stopping.signal.aborted) },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.onAssignment(
        [...this.sources.keys()].flatMap((topic) =>
          (payload.memberAssignment[topic] ?? []).map((partition) => ({ topic, partition })),
        ),
      );
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log.error(
        { err: payload.error, restart: payload.restart },
        "projector consumer crashed",
      );
    });
    // A crash kafkajs does not restart from would otherwise stop projecting for good.
    this.keeper = new ConsumerKeeper({
      consumer,
      role: "projector",
      what: `consume ${[...this.sources.keys()].join(", ")}`,
      log: this.log,
      readiness: this.readiness,
      signal: this.stopping.signal,
      start: async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [...this.sources.keys()], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          // History, commands and step logs have commandPartitions each; registrations one.
          partitionsConsumedConcurrently: 3 * config.commandPartitions + 1,
          eachBatch: (payload) => this.onBatch(payload),
        });
      },
    });
    await this.keeper.start();
    this.rewindTimer = setInterval(
      () => void this.checkRewind(),
      this.options.rewindCheckMs ?? 1000,
    );
    this.rewindTimer.unref();
    this.log.info(
      { groupId: this.groupId, topics: [...this.sources.keys()], schemaVersion: version },
      "projector started",
    );
  }

  /** Resolves once the projector joined its group and sought its partitions. */
  async ready(): Promise<void> {
    await this.hasJoined;
    await this.positioning;
  }

  /** Finishes the transaction in flight, then leaves the group. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.rewindTimer);
    this.keeper?.stop();
    this.readiness.clear(this.projectWait);
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.dlq?.disconnect();
    this.dlq = undefined;
    this.log.info("projector stopped");
  }

  private onAssignment(partitions: readonly TopicPartition[]): void {
    this.assigned = [...partitions];
    this.health.assigned(partitions);
    this.expected.clear();
    const generation = ++this.generation;
    this.positioning = this.position(partitions, generation)
      .catch((err: unknown) => {
        // Each batch of a partition not positioned yet positions it first.
        this.log.error({ err, partitions }, "reading the stored offsets failed");
      })
      .finally(() => this.joined());
  }

  /** Seeks each partition to the offset stored in the read models, whatever Kafka's group holds. */
  private async position(partitions: readonly TopicPartition[], generation: number): Promise<void> {
    const offsets: Record<string, string> = {};
    for (const [topic, ps] of byTopic(partitions)) {
      const stored = await readOffsets(this.options.db, this.groupId, topic, ps);
      if (generation !== this.generation) return;
      for (const [partition, offset] of stored) {
        this.seekTo(topic, partition, offset);
        offsets[tpKey(topic, partition)] = offset.toString();
      }
    }
    this.log.info(
      { partitions: Object.keys(offsets), offsets },
      "partitions assigned; reading from the offsets stored in the read models",
    );
  }

  private seekTo(topic: string, partition: number, offset: bigint): void {
    const key = tpKey(topic, partition);
    this.consumer?.seek({ topic, partition, offset: offset.toString() });
    this.expected.set(key, offset);
    this.epochs.set(key, (this.epochs.get(key) ?? 0) + 1);
  }

  private async onBatch(payload: PortEachBatchPayload): Promise<void> {
    const { topic, partition } = payload.batch;
    this.health.started(topic, partition, this.expected.get(tpKey(topic, partition)));
    try {
      await this.positionAndProject(payload);
    } catch (err) {
      this.onFailure(topic, partition, err);
      throw err;
    } finally {
      this.health.finished(topic, partition);
    }
    this.health.succeeded(topic, partition);
    this.readiness.clear(this.projectWait);
  }

  /**
   * kafkajs retries a failed batch (and restarts the consumer when its retries run out). Until
   * one goes through again: a database or Kafka that cannot be reached is a dependency waited
   * for (on /readyz at once, as for every role); whatever else fails shows in `health`, which
   * stalls the partition at once for a database that refuses writes or is damaged, and after
   * `projectorStallMs` otherwise.
   */
  private onFailure(topic: string, partition: number, err: unknown): void {
    const fault = this.health.failed(topic, partition, err);
    this.metrics.errors.inc({ source: this.sources.get(topic) ?? "other", kind: fault });
    if (fault !== "unavailable" && fault !== "kafka") return;
    const current = this.readiness.get(this.projectWait);
    this.readiness.wait(this.projectWait, {
      role: "projector",
      dependency: fault === "kafka" ? "kafka" : dependencyOf(err, "postgres"),
      action: "project into the read models",
      since: current?.since ?? Date.now(),
      failures: (current?.failures ?? 0) + 1,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  private async positionAndProject(payload: PortEachBatchPayload): Promise<void> {
    const { batch } = payload;
    await this.positioning;
    if (!this.expected.has(tpKey(batch.topic, batch.partition))) {
      // Positioning failed at assignment; after this seek the batch in hand is stale.
      await this.position([{ topic: batch.topic, partition: batch.partition }], this.generation);
      return;
    }
    if (payload.isStale() || !payload.isRunning() || batch.isEmpty()) return;
    await this.project(batch);
    await payload.heartbeat();
  }

  private async project(batch: PortBatch): Promise<void> {
    const { topic, partition } = batch;
    const tp = tpKey(topic, partition);
    const source = this.sources.get(topic);
    if (!source) return;
    const epoch = this.epochs.get(tp);
    const key: OffsetKey = { consumerGroup: this.groupId, topic, partition };
    const input: BatchInput = {
      source,
      key,
      records: batch.messages,
      nextOffset: BigInt(batch.lastOffset()) + 1n,
      expectedOffset: this.expected.get(tp)!,
      isCurrent: () => this.epochs.get(tp) === epoch,
      deadLetter: (records) => this.deadLetter(topic, partition, records),
    };
    let outcomes: BatchOutcome[];
    try {
      outcomes = [await projectBatch(this.options.db, input, this.log)];
    } catch (err) {
      if (!isDataError(err)) throw err;
      this.log.warn(
        { err, topic, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset() },
        "a batch did not project; projecting its records one by one to find the one at fault",
      );
      outcomes = await this.projectOneByOne(input);
    }
    const highWatermark = BigInt(batch.highWatermark);
    for (const outcome of outcomes)
      await this.settle(topic, partition, epoch, outcome, highWatermark);
  }

  /** One transaction per record; a record that still fails goes to the DLQ with the reason. */
  private async projectOneByOne(input: BatchInput): Promise<BatchOutcome[]> {
    const outcomes: BatchOutcome[] = [];
    let expectedOffset = input.expectedOffset;
    for (const [i, message] of input.records.entries()) {
      const last = i === input.records.length - 1;
      const single: BatchInput = {
        ...input,
        records: [message],
        nextOffset: last ? input.nextOffset : BigInt(message.offset) + 1n,
        expectedOffset,
      };
      let outcome: BatchOutcome;
      try {
        outcome = await projectBatch(this.options.db, single, this.log);
      } catch (err) {
        if (!isDataError(err)) throw err;
        const reason = `could not project: ${(err as Error).message}`;
        outcome = await projectBatch(
          this.options.db,
          { ...single, poisonReason: reason },
          this.log,
        );
      }
      outcomes.push(outcome);
      if (outcome.kind !== "committed") break;
      expectedOffset = outcome.nextOffset;
    }
    return outcomes;
  }

  private async settle(
    topic: string,
    partition: number,
    epoch: number | undefined,
    outcome: BatchOutcome,
    highWatermark: bigint,
  ) {
    if (outcome.kind === "stale") return;
    const tp = tpKey(topic, partition);
    if (outcome.kind === "rewound") {
      this.log.warn(
        { topic, partition, offset: outcome.storedOffset.toString() },
        "the read models were emptied (replay projections): projecting again from the stored offset",
      );
      if (this.epochs.get(tp) === epoch) this.seekTo(topic, partition, outcome.storedOffset);
      return;
    }
    if (this.epochs.get(tp) === epoch) this.expected.set(tp, outcome.nextOffset);
    this.health.applied(topic, partition, outcome.nextOffset, highWatermark);
    const { events, workflowIds, processIds } = outcome.changes;
    const changed = events.length + workflowIds.length + processIds.length > 0;
    if (!changed || !this.options.onCommitted) return;
    try {
      await this.options.onCommitted({ topic, partition, workflowIds, events, processIds });
    } catch (err) {
      this.log.error({ err, topic, partition }, "onCommitted failed; projection carries on");
    }
  }

  private async deadLetter(
    topic: string,
    partition: number,
    records: readonly DeadRecord[],
  ): Promise<void> {
    const producer = this.dlq;
    if (!producer) throw new Error("the projector is not started");
    await producer.send({
      topic: topics.dlq(this.options.config),
      messages: records.map((r) =>
        deadLetterMessage({ topic, partition, message: r.message }, r.reason, this.groupId),
      ),
    });
    const source = this.sources.get(topic) ?? "other";
    for (const r of records) {
      this.metrics.deadLetters.inc({ source, reason: r.kind });
      this.log.warn(
        { topic, partition, offset: r.message.offset, reason: r.reason },
        "record sent to the DLQ",
      );
    }
    this.metrics.dlqRecords.inc(records.length);
    this.health.deadLettered(
      topic,
      partition,
      records.map((r) => ({ offset: r.message.offset, reason: r.reason, kind: r.kind })),
    );
  }

  /** An idle projector learns of a replay here: its stored offsets went back. */
  private async checkRewind(): Promise<void> {
    if (this.checkingRewind || this.expected.size === 0) return;
    this.checkingRewind = true;
    try {
      const before = new Map(this.expected);
      const partitions = this.assigned.filter((tp) => before.has(tpKey(tp.topic, tp.partition)));
      for (const [topic, ps] of byTopic(partitions)) {
        const stored = await readOffsets(this.options.db, this.groupId, topic, ps);
        for (const [partition, offset] of stored) {
          const tp = tpKey(topic, partition);
          const expected = before.get(tp);
          if (expected === undefined || offset >= expected) continue;
          // Only if nothing moved meanwhile: a commit in between is not a replay.
          if (this.expected.get(tp) !== expected) continue;
          this.log.warn(
            { topic, partition, offset: offset.toString() },
            "the read models were emptied (replay projections): projecting again from the stored offset",
          );
          this.seekTo(topic, partition, offset);
        }
      }
    } catch (err) {
      this.log.warn({ err }, "checking the stored offsets failed");
    } finally {
      this.checkingRewind = false;
    }
  }
}

interface TopicPartition {
  topic: string;
  partition: number;
}

function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

function byTopic(partitions: readonly TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = out.get(topic) ?? [];
    list.push(partition);
    out.set(topic, list);
  }
  return out;
}
