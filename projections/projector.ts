import type { Batch, Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import type { Pool } from "pg";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { deadLetterMessage } from "../producers/dead-letter";
import type { HistoryEvent } from "../schemas/types";
import { ensureTopics, withAdmin } from "../transport/kafka";
import { checkSchema } from "./migrate";
import {
  isDataError,
  projectBatch,
  type BatchInput,
  type BatchOutcome,
  type DeadRecord,
} from "./project-batch";
import { readOffsets, type OffsetKey } from "./tables/offsets";

/** What one committed transaction changed; handed to `onCommitted` after the COMMIT. */
export interface CommittedChanges {
  readonly partition: number;
  /** Runs whose rows changed, in the order their first event came. */
  readonly workflowIds: readonly string[];
  /** The events projected, in order. */
  readonly events: readonly HistoryEvent[];
}

export interface ProjectorOptions {
  config: WeftConfig;
  kafka: Kafka;
  /** The projector uses one connection per partition it projects at once. */
  pool: Pool;
  logger: Logger;
  /** Called after each commit; errors are logged and never stop projecting. Keep it quick. */
  onCommitted?: (changes: CommittedChanges) => void | Promise<void>;
  /** How often to look for read models emptied under a running projector; default 1000 ms. */
  rewindCheckMs?: number;
}

export const projectorGroup = (config: WeftConfig) => `${config.topicPrefix}.projector`;

/**
 * A member of the `<prefix>.projector` consumer group over `weft.history`: it builds the
 * PostgreSQL read models, exactly once. Each batch of a partition commits in one PostgreSQL
 * transaction with the partition's next offset; Kafka's committed offsets are never used.
 * On every assignment each partition is sought to the offset stored in PostgreSQL.
 *
 * `replay projections` may run while projectors run: a projector finds its stored offset went
 * back (in its next transaction, or within `rewindCheckMs` when idle) and reads again from it.
 */
export class Projector {
  readonly groupId: string;
  private readonly topic: string;
  private readonly log: Logger;
  private consumer: Consumer | undefined;
  private dlq: Producer | undefined;
  /** Per assigned partition: the offset this projector believes is stored in PostgreSQL. */
  private readonly expected = new Map<number, bigint>();
  /** Per partition: bumped by every seek, so a batch fetched before it is known to be stale. */
  private readonly epochs = new Map<number, number>();
  private assigned: readonly number[] = [];
  private generation = 0;
  private positioning: Promise<void> = Promise.resolve();
  private rewindTimer: NodeJS.Timeout | undefined;
  private checkingRewind = false;
  private joined: () => void = () => undefined;
  private readonly hasJoined = new Promise<void>((resolve) => (this.joined = resolve));

  constructor(private readonly options: ProjectorOptions) {
    this.groupId = projectorGroup(options.config);
    this.topic = topics.history(options.config);
    this.log = options.logger.child({ role: "projector" });
  }

  /** Partitions of history this projector owns now. */
  get assignedPartitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /** Refuses a database whose schema is not the one this Weft knows: run `weft migrate` first. */
  async start(): Promise<void> {
    const { config, kafka, pool } = this.options;
    const version = await checkSchema(pool);
    await withAdmin(kafka, (admin) => ensureTopics(admin, config));
    const dlq = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await dlq.connect();
    this.dlq = dlq;
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
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.onAssignment(payload.memberAssignment[this.topic] ?? []);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log.error(
        { err: payload.error, restart: payload.restart },
        "projector consumer crashed",
      );
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: config.commandPartitions,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.rewindTimer = setInterval(
      () => void this.checkRewind(),
      this.options.rewindCheckMs ?? 1000,
    );
    this.rewindTimer.unref();
    this.log.info(
      { groupId: this.groupId, topic: this.topic, schemaVersion: version },
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
    clearInterval(this.rewindTimer);
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.dlq?.disconnect();
    this.dlq = undefined;
    this.log.info("projector stopped");
  }

  private onAssignment(partitions: readonly number[]): void {
    this.assigned = [...partitions];
    this.expected.clear();
    const generation = ++this.generation;
    this.positioning = this.position(partitions, generation)
      .catch((err: unknown) => {
        // Each batch of a partition not positioned yet positions it first.
        this.log.error({ err, partitions }, "reading the stored offsets failed");
      })
      .finally(() => this.joined());
  }

  /** Seeks each partition to the offset stored in PostgreSQL, whatever Kafka's group holds. */
  private async position(partitions: readonly number[], generation: number): Promise<void> {
    const stored = await readOffsets(this.options.pool, this.groupId, this.topic, partitions);
    if (generation !== this.generation) return;
    for (const [partition, offset] of stored) this.seekTo(partition, offset);
    this.log.info(
      { partitions, offsets: Object.fromEntries([...stored].map(([p, o]) => [p, o.toString()])) },
      "partitions assigned; reading from the offsets stored in PostgreSQL",
    );
  }

  private seekTo(partition: number, offset: bigint): void {
    this.consumer?.seek({ topic: this.topic, partition, offset: offset.toString() });
    this.expected.set(partition, offset);
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    await this.positioning;
    if (!this.expected.has(batch.partition)) {
      // Positioning failed at assignment; after this seek the batch in hand is stale.
      await this.position([batch.partition], this.generation);
      return;
    }
    if (payload.isStale() || !payload.isRunning() || batch.isEmpty()) return;
    await this.project(batch);
    await payload.heartbeat();
  }

  private async project(batch: Batch): Promise<void> {
    const partition = batch.partition;
    const epoch = this.epochs.get(partition);
    const key: OffsetKey = { consumerGroup: this.groupId, topic: this.topic, partition };
    const input: BatchInput = {
      key,
      records: batch.messages,
      nextOffset: BigInt(batch.lastOffset()) + 1n,
      expectedOffset: this.expected.get(partition)!,
      isCurrent: () => this.epochs.get(partition) === epoch,
      deadLetter: (records) => this.deadLetter(partition, records),
    };
    let outcomes: BatchOutcome[];
    try {
      outcomes = [await projectBatch(this.options.pool, input, this.log)];
    } catch (err) {
      if (!isDataError(err)) throw err;
      this.log.warn(
        { err, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset() },
        "a batch did not project; projecting its records one by one to find the one at fault",
      );
      outcomes = await this.projectOneByOne(input);
    }
    for (const outcome of outcomes) await this.settle(partition, epoch, outcome);
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
        outcome = await projectBatch(this.options.pool, single, this.log);
      } catch (err) {
        if (!isDataError(err)) throw err;
        const reason = `could not project: ${(err as Error).message}`;
        outcome = await projectBatch(
          this.options.pool,
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

  private async settle(partition: number, epoch: number | undefined, outcome: BatchOutcome) {
    if (outcome.kind === "stale") return;
    if (outcome.kind === "rewound") {
      this.log.warn(
        { partition, offset: outcome.storedOffset.toString() },
        "the read models were emptied (replay projections): projecting again from the stored offset",
      );
      if (this.epochs.get(partition) === epoch) this.seekTo(partition, outcome.storedOffset);
      return;
    }
    if (this.epochs.get(partition) === epoch) this.expected.set(partition, outcome.nextOffset);
    const { applied } = outcome.changes;
    if (applied.length === 0 || !this.options.onCommitted) return;
    try {
      await this.options.onCommitted({
        partition,
        workflowIds: [...new Set(applied.map((e) => e.workflowId))],
        events: applied,
      });
    } catch (err) {
      this.log.error({ err, partition }, "onCommitted failed; projection carries on");
    }
  }

  private async deadLetter(partition: number, records: readonly DeadRecord[]): Promise<void> {
    const producer = this.dlq;
    if (!producer) throw new Error("the projector is not started");
    await producer.send({
      topic: topics.dlq(this.options.config),
      messages: records.map((r) =>
        deadLetterMessage(
          { topic: this.topic, partition, message: r.message },
          r.reason,
          this.groupId,
        ),
      ),
    });
    for (const r of records) {
      this.log.warn(
        { partition, offset: r.message.offset, reason: r.reason },
        "history record sent to the DLQ",
      );
    }
  }

  /** An idle projector learns of a replay here: its stored offsets went back. */
  private async checkRewind(): Promise<void> {
    if (this.checkingRewind || this.expected.size === 0) return;
    this.checkingRewind = true;
    try {
      const before = new Map(this.expected);
      const stored = await readOffsets(this.options.pool, this.groupId, this.topic, [
        ...before.keys(),
      ]);
      for (const [partition, offset] of stored) {
        const expected = before.get(partition);
        if (expected === undefined || offset >= expected) continue;
        // Only if nothing moved meanwhile: a commit in between is not a replay.
        if (this.expected.get(partition) !== expected) continue;
        this.log.warn(
          { partition, offset: offset.toString() },
          "the read models were emptied (replay projections): projecting again from the stored offset",
        );
        this.seekTo(partition, offset);
      }
    } catch (err) {
      this.log.warn({ err }, "checking the stored offsets failed");
    } finally {
      this.checkingRewind = false;
    }
  }
}
