import type { Registry } from "prom-client";
import type {
  KafkaPort,
  OwnedBatch,
  PortPartitionOwnership,
  PortProducer,
} from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import { backoffMs, sleep, type Backoff } from "../core/backoff";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { dependencyOf, untilAvailable, type WaitOptions } from "../core/until-available";
import { partitionOwnership } from "../transport/group-ownership";
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

/** A batch that failed to project is tried again after 0.3 s, doubling to 10 s. */
const RETRY_BACKOFF: Backoff = { initialMs: 300, maxMs: 10_000, jitter: 0.2 };

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
 * A projector: it builds the read models (PostgreSQL or SQLite), exactly once, from
 * `weft.history`, `weft.registrations` (definitions and processes), `weft.commands` (starts
 * only: pending runs) and `weft.step-logs` (each attempt's `step.log` lines). Projectors share
 * each topic's partitions through a group per topic (`<prefix>.projector.<source>`). Each
 * batch of a partition commits in one transaction with the partition's next offset, stored in
 * the read models under `<prefix>.projector`; the log's committed offsets are never used. On
 * every assignment each partition is sought to the offset stored in the read models.
 *
 * `replay projections` may run while projectors run: a projector finds its stored offset went
 * back (in its next transaction, or within `rewindCheckMs` when idle) and reads again from it.
 *
 * It never wedges on a record: one the database will not take goes to the DLQ with the reason
 * and the partition carries on. A batch that fails otherwise (the database unreachable) is
 * tried again in place, with backoff, its partition held meanwhile. Whether each partition
 * gets its batches through is in `health` (for /readyz, the `weft_projector_*` metrics and the
 * API's `projectors`).
 */
export class Projector {
  /** The read models' key for this projector's stored offsets. */
  readonly groupId: string;
  /** How its partitions fare: stalled ones, and the records it sent to the DLQ. */
  readonly health: ProjectorHealth;
  private readonly metrics: ProjectorMetrics;
  /** The topics read, each with what it feeds. */
  private readonly sources: ReadonlyMap<string, ProjectedSource>;
  private readonly historyTopic: string;
  private readonly log: Logger;
  /** Per topic, this member's share of its partitions. */
  private readonly owners = new Map<string, PortPartitionOwnership>();
  private dlq: PortProducer | undefined;
  private readonly readiness: Readiness;
  private readonly stopping = new AbortController();
  /** Shown on /readyz while batches fail to project (PostgreSQL unreachable, most often). */
  private readonly projectWait = Symbol("project");
  /** Per assigned topic-partition: the offset this projector believes is stored in the read models. */
  private readonly expected = new Map<string, bigint>();
  /** Per topic-partition: bumped by every seek, so a batch fetched before it is known stale. */
  private readonly epochs = new Map<string, number>();
  /** Per topic: the partitions owned now. */
  private readonly assigned = new Map<string, readonly number[]>();
  /** Per topic: bumped by each assignment, so a positioning that was overtaken stops. */
  private readonly generations = new Map<string, number>();
  /** Per topic: the seek of its partitions to their stored offsets, after the last assignment. */
  private readonly positioning = new Map<string, Promise<void>>();
  private rewindTimer: NodeJS.Timeout | undefined;
  private checkingRewind = false;

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
    return [...(this.assigned.get(this.historyTopic) ?? [])].sort((a, b) => a - b);
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
    await Promise.all(
      [...this.sources].map(([topic, source]) => {
        const what = `consume ${topic}`;
        const owner = partitionOwnership(kafka, {
          groupId: `${this.groupId}.${source}`,
          topic,
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 20_000,
          heartbeatIntervalMs: 1000,
          // Registrations have one partition; history, commands and step logs commandPartitions.
          concurrency: config.commandPartitions,
          // Larger fetches make larger transactions when the projector is behind.
          fetchMaxBytes: 4 * 1024 * 1024,
          logger: this.log.child({ topic }),
          waiting: { readiness: this.readiness, role: "projector", what },
        });
        this.owners.set(topic, owner);
        return untilAvailable(wait, "kafka", what, () =>
          owner.start({
            assigned: (partitions) => this.onAssignment(topic, [...partitions]),
            fetched: (batch) => this.onBatch(topic, batch),
            skipped: () => undefined,
            claimed: () => this.assigned.get(topic) ?? [],
          }),
        );
      }),
    );
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

  /** Resolves once the projector owns its partitions and sought them to their stored offsets. */
  async ready(): Promise<void> {
    await Promise.all(this.positioning.values());
  }

  /** Finishes the transaction in flight, then leaves the groups. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.rewindTimer);
    this.readiness.clear(this.projectWait);
    for (const owner of this.owners.values()) owner.stopFetching();
    await Promise.all([...this.owners.values()].map((owner) => owner.leave()));
    this.owners.clear();
    await this.dlq?.disconnect();
    this.dlq = undefined;
    this.log.info("projector stopped");
  }

  private onAssignment(topic: string, partitions: readonly number[]): void {
    this.assigned.set(topic, partitions);
    this.health.assigned(this.allAssigned());
    for (const key of [...this.expected.keys()])
      if (key.startsWith(`${topic}:`)) this.expected.delete(key);
    const generation = (this.generations.get(topic) ?? 0) + 1;
    this.generations.set(topic, generation);
    this.positioning.set(
      topic,
      this.position(topic, partitions, generation).catch((err: unknown) => {
        // Each batch of a partition not positioned yet positions it first.
        this.log.error({ err, topic, partitions }, "reading the stored offsets failed");
      }),
    );
  }

  private allAssigned(): TopicPartition[] {
    return [...this.assigned].flatMap(([topic, ps]) =>
      ps.map((partition) => ({ topic, partition })),
    );
  }

  /** Seeks each partition to the offset stored in the read models, whatever the log's group holds. */
  private async position(
    topic: string,
    partitions: readonly number[],
    generation: number,
  ): Promise<void> {
    if (partitions.length === 0) return;
    const stored = await readOffsets(this.options.db, this.groupId, topic, partitions);
    if (generation !== this.generations.get(topic)) return;
    const offsets: Record<string, string> = {};
    for (const [partition, offset] of stored) {
      this.seekTo(topic, partition, offset);
      offsets[tpKey(topic, partition)] = offset.toString();
    }
    this.log.info(
      { partitions: Object.keys(offsets), offsets },
      "partitions assigned; reading from the offsets stored in the read models",
    );
  }

  private seekTo(topic: string, partition: number, offset: bigint): void {
    const key = tpKey(topic, partition);
    this.owners.get(topic)?.seek(partition, offset);
    this.expected.set(key, offset);
    this.epochs.set(key, (this.epochs.get(key) ?? 0) + 1);
  }

  /**
   * Projects a batch, trying again with backoff while it fails for a reason other than its
   * records (those go to the DLQ): the partition waits, its later records behind it. The group
   * hears from this member meanwhile; a heartbeat refused (a rebalance) ends the batch, so that
   * the member rejoins at once: its records come again to whoever owns the partition then.
   */
  private async onBatch(topic: string, batch: OwnedBatch): Promise<void> {
    const { partition } = batch;
    for (let failures = 0; !this.stopping.signal.aborted && !batch.isStale();) {
      this.health.started(topic, partition, this.expected.get(tpKey(topic, partition)));
      let failed = false;
      try {
        await this.positionAndProject(topic, batch);
      } catch (err) {
        this.onFailure(topic, partition, err);
        failed = true;
      } finally {
        this.health.finished(topic, partition);
      }
      if (failed) {
        failures++;
        await this.waitBeforeRetry(batch, backoffMs(RETRY_BACKOFF, failures));
        continue;
      }
      this.health.succeeded(topic, partition);
      this.readiness.clear(this.projectWait);
      await batch.heartbeat();
      return;
    }
  }

  /** Waits `ms`, telling the group this member lives about every second. */
  private async waitBeforeRetry(batch: OwnedBatch, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping.signal.aborted && !batch.isStale() && Date.now() < until) {
      await sleep(Math.min(1000, until - Date.now()), this.stopping.signal);
      await batch.heartbeat();
    }
  }

  /**
   * Until a failed batch goes through: a database or Kafka that cannot be reached is a
   * dependency waited for (on /readyz at once, as for every role); whatever else fails shows
   * in `health`, which stalls the partition at once for a database that refuses writes or is
   * damaged, and after `projectorStallMs` otherwise.
   */
  private onFailure(topic: string, partition: number, err: unknown): void {
    this.log.warn({ err, topic, partition }, "a batch did not project; trying it again");
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

  private async positionAndProject(topic: string, batch: OwnedBatch): Promise<void> {
    const { partition } = batch;
    await this.positioning.get(topic);
    if (!this.expected.has(tpKey(topic, partition))) {
      // Positioning failed at assignment; after this seek the batch in hand is stale.
      await this.position(topic, [partition], this.generations.get(topic) ?? 0);
      return;
    }
    if (batch.isStale()) return;
    if (await this.project(topic, batch)) batch.take(batch.last.toString());
  }

  /** Resolves true when the batch is projected (or was already): its records are taken. */
  private async project(topic: string, batch: OwnedBatch): Promise<boolean> {
    const { partition } = batch;
    const tp = tpKey(topic, partition);
    const source = this.sources.get(topic);
    if (!source) return true;
    const epoch = this.epochs.get(tp);
    const key: OffsetKey = { consumerGroup: this.groupId, topic, partition };
    const input: BatchInput = {
      source,
      key,
      records: batch.messages,
      nextOffset: batch.last + 1n,
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
        {
          err,
          topic,
          partition,
          firstOffset: batch.first.toString(),
          lastOffset: batch.last.toString(),
        },
        "a batch did not project; projecting its records one by one to find the one at fault",
      );
      outcomes = await this.projectOneByOne(input);
    }
    for (const outcome of outcomes) await this.settle(topic, partition, epoch, outcome, batch.end);
    return this.epochs.get(tp) === epoch;
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
      for (const [topic, owned] of this.assigned) {
        const ps = owned.filter((partition) => before.has(tpKey(topic, partition)));
        if (ps.length === 0) continue;
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
