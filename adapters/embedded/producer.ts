import { Partitioners } from "kafkajs";
import type {
  PortMessage,
  PortProducer,
  PortProducerBatch,
  PortProducerConfig,
  PortProducerRecord,
  PortRecordMetadata,
  PortTopicMessages,
  PortTransaction,
  PortTransactionOffsets,
} from "../../transport/port";
import { headerEntries, recordBytes } from "../../transport/headers";
import { partitionForKey } from "../../transport/partitioning";
import { EmbeddedLogError, producerFenced, unknownTopicOrPartition } from "./errors";
import type { AppendRecord, EmbeddedLog, OffsetCommit } from "./log";

/** kafkajs's default partitioner (murmur2 of the key, as Java's; round-robin without a key). */
export type Partitioner = (topic: string, partitions: number, message: PortMessage) => number;

export function defaultPartitioner(): Partitioner {
  const kafkajs = Partitioners.DefaultPartitioner();
  return (topic, count, message) =>
    message.key !== null && message.key !== undefined
      ? partitionForKey(topic, message.key, count)
      : kafkajs({
          topic,
          partitionMetadata: Array.from({ length: count }, (_, i) => ({
            partitionId: i,
            leader: 0,
            partitionErrorCode: 0,
            replicas: [0],
            isr: [0],
          })),
          message,
        });
}

/**
 * A producer on the embedded log. Plain sends append at once (one frame per call). A
 * transactional producer buffers a transaction's records and offsets and appends them in one
 * frame at commit: records of an open transaction are never visible, aborted ones never exist.
 * Its first transaction takes a new epoch for its transactional ID, which fences every older
 * producer of that ID: their sends and commits fail with PRODUCER_FENCED.
 */
export class EmbeddedProducer implements PortProducer {
  private connected = false;
  private epoch: number | undefined;
  private open: EmbeddedTransaction | undefined;

  constructor(
    private readonly log: EmbeddedLog,
    private readonly config: PortProducerConfig,
    private readonly partitioner: Partitioner,
  ) {}

  connect(): Promise<void> {
    this.connected = true;
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.connected = false;
    this.open?.discard();
    this.open = undefined;
    return Promise.resolve();
  }

  send(record: PortProducerRecord): Promise<PortRecordMetadata[]> {
    return this.sendBatch({ topicMessages: [record] });
  }

  sendBatch(batch: PortProducerBatch): Promise<PortRecordMetadata[]> {
    return settle(() => {
      this.assertConnected();
      if (this.config.transactionalId !== undefined)
        throw new EmbeddedLogError(
          "INVALID_TXN_STATE",
          "a transactional producer sends inside a transaction only",
        );
      const records = this.toRecords(batch.topicMessages ?? []);
      return metadata(records, this.log.append(records, []));
    });
  }

  transaction(): Promise<PortTransaction> {
    return settle(() => {
      this.assertConnected();
      const id = this.config.transactionalId;
      if (id === undefined)
        throw new EmbeddedLogError("INVALID_TXN_STATE", "the producer has no transactionalId");
      if (this.open?.isActive())
        throw new EmbeddedLogError("INVALID_TXN_STATE", "there is already an ongoing transaction");
      this.epoch ??= this.log.bumpEpoch(id);
      this.open = new EmbeddedTransaction(this, id, this.epoch);
      return this.open;
    });
  }

  /** @internal */
  assertCurrent(id: string, epoch: number): void {
    this.assertConnected();
    const current = this.log.epoch(id) ?? -1;
    if (current !== epoch) throw producerFenced(id, epoch, current);
  }

  /** @internal */
  toRecords(topicMessages: readonly PortTopicMessages[]): AppendRecord[] {
    const now = Date.now();
    const out: AppendRecord[] = [];
    for (const { topic, messages } of topicMessages) {
      const count = this.log.partitionCount(topic);
      if (count === undefined) throw unknownTopicOrPartition(topic);
      for (const m of messages) {
        const partition = m.partition ?? this.partitioner(topic, count, m);
        if (!Number.isInteger(partition) || partition < 0 || partition >= count)
          throw unknownTopicOrPartition(topic, partition);
        out.push({
          topic,
          partition,
          timestamp: m.timestamp === undefined ? now : Number(m.timestamp),
          key: recordBytes(m.key),
          value: recordBytes(m.value),
          headers: headerEntries(m.headers),
        });
      }
    }
    return out;
  }

  /** @internal */
  commit(records: AppendRecord[], offsets: OffsetCommit[], id: string, epoch: number): void {
    this.assertCurrent(id, epoch);
    this.log.append(records, offsets);
  }

  /** @internal */
  finished(tx: EmbeddedTransaction): void {
    if (this.open === tx) this.open = undefined;
  }

  private assertConnected(): void {
    if (!this.connected)
      throw new EmbeddedLogError("NOT_CONNECTED", "the producer is not connected", true);
  }
}

class EmbeddedTransaction implements PortTransaction {
  private state: "open" | "committed" | "aborted" = "open";
  private readonly records: AppendRecord[] = [];
  private readonly offsets: OffsetCommit[] = [];

  constructor(
    private readonly producer: EmbeddedProducer,
    private readonly id: string,
    private readonly epoch: number,
  ) {}

  isActive(): boolean {
    return this.state === "open";
  }

  send(record: PortProducerRecord): Promise<PortRecordMetadata[]> {
    return this.sendBatch({ topicMessages: [record] });
  }

  sendBatch(batch: PortProducerBatch): Promise<PortRecordMetadata[]> {
    return settle(() => {
      this.assertOpen();
      this.producer.assertCurrent(this.id, this.epoch);
      const records = this.producer.toRecords(batch.topicMessages ?? []);
      this.records.push(...records);
      return records.map((r) => ({ topicName: r.topic, partition: r.partition, errorCode: 0 }));
    });
  }

  sendOffsets(offsets: PortTransactionOffsets): Promise<void> {
    return settle(() => {
      this.assertOpen();
      this.producer.assertCurrent(this.id, this.epoch);
      for (const { topic, partitions } of offsets.topics)
        for (const { partition, offset } of partitions)
          this.offsets.push({
            group: offsets.consumerGroupId,
            topic,
            partition,
            offset: Number(offset),
          });
    });
  }

  commit(): Promise<void> {
    return settle(() => {
      this.assertOpen();
      try {
        this.producer.commit(this.records, this.offsets, this.id, this.epoch);
        this.state = "committed";
      } catch (err) {
        // Nothing was written: the transaction is over, as if aborted.
        this.state = "aborted";
        throw err;
      } finally {
        this.producer.finished(this);
      }
    });
  }

  abort(): Promise<void> {
    return settle(() => {
      if (this.state === "committed")
        throw new EmbeddedLogError("INVALID_TXN_STATE", "the transaction was committed");
      this.discard();
    });
  }

  /** @internal */
  discard(): void {
    this.state = "aborted";
    this.records.length = 0;
    this.offsets.length = 0;
    this.producer.finished(this);
  }

  private assertOpen(): void {
    if (this.state !== "open")
      throw new EmbeddedLogError("INVALID_TXN_STATE", `the transaction is ${this.state}`);
  }
}

/** Runs synchronous work as a promise that settles on a later tick, as network calls do. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(work());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function metadata(records: AppendRecord[], offsets: number[]): PortRecordMetadata[] {
  return records.map((r, i) => ({
    topicName: r.topic,
    partition: r.partition,
    errorCode: 0,
    baseOffset: String(offsets[i]),
  }));
}
