/**
 * A Kafka trigger: consumes a user's topic (read_committed, consumer group
 * `<prefix>.trigger.<name>`) and turns each record into a command, exactly once. For each
 * batch one transaction carries the commands (to `weft.commands`), the records that map to
 * none (to `weft.dlq`, with the reason) and the consumed offset; it commits all or nothing.
 *
 * Ownership of a source partition is fenced like a decider's: a writer of the decision log
 * whose transactional ID names the trigger and the partition, connected (which fences any
 * older owner and aborts its open transaction) before the committed offset is read and the
 * consumer moved there. So a zombie owner cannot commit, and what the new owner reads
 * as committed is final. A record that is consumed twice anyway (its transaction aborted)
 * maps to the same workflow ID and request ID again (map-delivery.ts), and deciders only read
 * committed commands: one run per record.
 */
import { backoffMs, sleep, type Backoff } from "../core/backoff";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { deadLetterMessage } from "../producers/dead-letter";
import { commandCodec, commandHeaders } from "../schemas/codec";
import { ensureTopics, withAdmin } from "../transport/topics";
import { headersToStrings } from "../transport/headers";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import type {
  KafkaPort,
  OwnedBatch,
  PortConsumedMessage,
  PortDecisionLog,
  PortDecisionWriter,
  PortMessage,
  PortPartitionOwnership,
} from "../transport/port";
import type { KafkaTriggerSource, TriggerDefinition } from "./definition";
import { mapDelivery, recordDelivery } from "./map-delivery";
import type { TriggerCounters } from "./trigger-counters";

export interface KafkaTriggerOptions {
  kafka: KafkaPort;
  /** Each source partition's atomic commits, from the backends. */
  decisionLog: PortDecisionLog;
  config: WeftConfig;
  logger: Logger;
  trigger: TriggerDefinition;
  counters: TriggerCounters;
}

/** Source partitions whose records are mapped and committed at once. */
const SOURCE_PARTITIONS_AT_ONCE = 4;
/** A rebalance waits this long for the batches in hand (kafkajs's default). */
const REBALANCE_TIMEOUT_MS = 60_000;
/** Records per transaction at most: a batch is split, each part committed on its own. */
const MAX_RECORDS_PER_COMMIT = 500;
/** Between tries after a failed commit or open: 100 ms doubling to 2 s. */
const RETRY_BACKOFF: Backoff = { initialMs: 100, maxMs: 2000, jitter: 0.25 };

export function triggerGroup(config: WeftConfig, trigger: string): string {
  return `${config.topicPrefix}.trigger.${trigger}`;
}

/** A source partition this member owns, fenced, and where its next record is. */
interface OwnedPartition {
  writer: PortDecisionWriter;
  /** Every record below this offset is committed (as commands or dead letters). */
  next: bigint;
}

export class KafkaTrigger {
  private readonly log: Logger;
  private readonly group: string;
  private readonly topic: string;
  private readonly source: Readonly<KafkaTriggerSource>;
  private readonly commandsTopic: string;
  private commandPartitions = 0;
  /** The source topic's partitions this member owns in the trigger's group. */
  private readonly ownership: PortPartitionOwnership;
  private readonly owned = new Map<number, OwnedPartition>();
  private failures = 0;
  private stopped = false;

  constructor(private readonly options: KafkaTriggerOptions) {
    const { trigger, config } = options;
    if (trigger.source.type !== "kafka")
      throw new Error(`trigger ${trigger.name} is not a Kafka trigger`);
    this.source = trigger.source.kafka;
    this.topic = this.source.topic;
    this.group = triggerGroup(config, trigger.name);
    this.commandsTopic = topics.commands(config);
    this.log = options.logger.child({ role: "trigger", trigger: trigger.name, topic: this.topic });
    this.ownership = options.decisionLog.ownership({
      groupId: this.group,
      topic: this.topic,
      // A new trigger starts at the topic's first record unless told otherwise.
      fromBeginning: this.source.fromBeginning ?? true,
      sessionTimeoutMs: config.deciderSessionTimeoutMs,
      concurrency: SOURCE_PARTITIONS_AT_ONCE,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
      logger: this.log,
    });
  }

  get name(): string {
    return this.options.trigger.name;
  }

  /** Joins the group; throws (to be tried again) while the topics are not there. */
  async start(): Promise<void> {
    const { kafka, config } = this.options;
    this.commandPartitions = await withAdmin(kafka, async (admin) => {
      await ensureTopics(admin, config);
      // The user's topic is theirs: Weft never creates it; missing, the start is retried.
      await partitionCount(admin, this.topic);
      return partitionCount(admin, this.commandsTopic);
    });
    await this.ownership.start({
      // Any rebalance may have moved a partition away and back: each is fenced again.
      assigned: (partitions) => {
        this.log.info({ partitions: [...partitions] }, "trigger assigned");
        this.releaseAll();
      },
      fetched: async (batch) => {
        if (batch.isStale() || this.stopped) return;
        await this.onBatch(batch);
      },
      skipped: () => undefined,
      claimed: () => [...this.owned.keys()],
    });
    this.log.info({ group: this.group }, "Kafka trigger started");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ownership.leave().catch(() => undefined);
    this.releaseAll();
  }

  private async onBatch(batch: OwnedBatch): Promise<void> {
    const { partition, messages } = batch;
    const owned = this.owned.get(partition);
    try {
      if (!owned) {
        // The batch in hand was fetched before the fence: it is dropped, and the consumer
        // starts again at the offset committed by whoever owned the partition before.
        await this.open(partition);
        return;
      }
      // Below `next`: committed already (fetched again after a rebalance); skipped.
      const fresh = messages.filter((m) => BigInt(m.offset) >= owned.next);
      for (let i = 0; i < fresh.length; i += MAX_RECORDS_PER_COMMIT) {
        if (batch.isStale() || this.owned.get(partition) !== owned) return;
        const part = fresh.slice(i, i + MAX_RECORDS_PER_COMMIT);
        await this.commit(partition, owned, part);
        batch.take(part[part.length - 1]!.offset);
      }
      this.failures = 0;
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      const delay = backoffMs(RETRY_BACKOFF, this.failures);
      this.log.warn(
        { err, partition, retryInMs: delay },
        "trigger transaction failed; reopening the partition from its committed offset",
      );
      this.release(partition);
      await sleep(delay);
    }
  }

  /** Fences older owners, then moves the consumer to the committed offset. */
  private async open(partition: number): Promise<void> {
    const { decisionLog, config, trigger } = this.options;
    const writer = decisionLog.writer(
      `${config.topicPrefix}.trigger.${trigger.name}.p${partition}`,
    );
    try {
      await writer.connect();
      const next = await this.committedOffset(partition);
      if (this.stopped) throw new Error("the trigger stopped");
      this.ownership.seek(partition, next);
      this.owned.set(partition, { writer, next });
      this.log.info({ partition, offset: String(next) }, "trigger partition opened");
    } catch (err) {
      await writer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** The group's committed offset, else where a new group starts (first or next record). */
  private async committedOffset(partition: number): Promise<bigint> {
    const committed = await this.ownership.committedOffset(partition);
    if (committed !== undefined) return committed;
    return withAdmin(this.options.kafka, async (admin) => {
      const ends = await admin.fetchTopicOffsets(this.topic);
      const end = ends.find((o) => o.partition === partition);
      if (!end) throw new Error(`${this.topic} has no partition ${partition}`);
      const fromBeginning = this.source.fromBeginning ?? true;
      return BigInt(fromBeginning ? end.low : end.high);
    });
  }

  /** One transaction: the records' commands and dead letters, and the consumed offset. */
  private async commit(
    partition: number,
    owned: OwnedPartition,
    messages: PortConsumedMessage[],
  ): Promise<void> {
    const { trigger, config, counters } = this.options;
    const commands: PortMessage[] = [];
    const deadLetters: PortMessage[] = [];
    for (const message of messages) {
      const outcome = mapDelivery(trigger, {
        key: message.key,
        value: message.value,
        delivery: recordDelivery(this.topic, partition, message.offset),
        headers: headersToStrings(message.headers),
      });
      if (outcome.kind === "unmappable") {
        this.log.warn(
          { partition, offset: message.offset, reason: outcome.reason },
          "record sent to the DLQ",
        );
        deadLetters.push({
          ...deadLetterMessage(
            { topic: this.topic, partition, message },
            `UNMAPPABLE_INPUT: ${outcome.reason}`,
            this.group,
          ),
          partition: 0,
        });
        continue;
      }
      const { command } = outcome;
      const target = partitionForKey(
        this.commandsTopic,
        command.workflowId,
        this.commandPartitions,
      );
      commands.push({
        key: command.workflowId,
        partition: target,
        value: commandCodec.encode(command),
        headers: commandHeaders(command),
      });
    }
    const nextOffset = BigInt(messages[messages.length - 1]!.offset) + 1n;
    await owned.writer.commit(
      {
        records: [
          { topic: this.commandsTopic, messages: commands },
          { topic: topics.dlq(config), messages: deadLetters },
        ],
        consumed: { groupId: this.group, topic: this.topic, partition, offset: nextOffset },
      },
      () => {
        // Revoked (or stopped) while sending: abort rather than commit what another may redo.
        if (this.owned.get(partition) !== owned)
          return Promise.reject(new Error("partition revoked during commit"));
        return Promise.resolve();
      },
    );
    owned.next = nextOffset;
    counters.accepted(trigger.name, messages.length - deadLetters.length);
    counters.refused(trigger.name, deadLetters.length);
  }

  private release(partition: number): void {
    const owned = this.owned.get(partition);
    if (!owned) return;
    this.owned.delete(partition);
    void owned.writer.disconnect().catch(() => undefined);
  }

  private releaseAll(): void {
    for (const partition of [...this.owned.keys()]) this.release(partition);
  }
}
