import type { WeftConfig } from "../../core/config";
import { readPartitions } from "../../transport/history-reader";
import type {
  KafkaPort,
  PortDecisionLog,
  PortDecisionWriter,
  PortMessage,
  PortTopicMessages,
  PortTransactionalProducer,
} from "../../transport/port";
import { TransactionWriter, type TransactionSending } from "../../transport/transaction-writer";
import { groupBy } from "../../core/group-by";
import { GroupOwnership } from "../../transport/group-ownership";
import { canReadCompacted, readCompacted } from "./compacted-reader";
import { pipelinedProducer } from "./pipelined-transactions";

/** Records of one partition per request: well under the broker's 1 MiB record-batch limit. */
export const MAX_REQUEST_BYTES = 512 * 1024;
/** The coordinator aborts a transaction left open this long (a writer that died mid-commit). */
const TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * The decision log on Kafka. A writer is Weft's pipelined producer (a decision in three round
 * trips) unless `pipelinedCommit` is off or the client is not kafkajs's, then kafkajs's own
 * transactional producer; either way a decision's records go one partition per request, in
 * requests under the broker's batch limit, and its offset is retried on
 * CONCURRENT_TRANSACTIONS (see `transactionSending`). The restore read steps over the empty
 * batches compaction leaves (adapters/kafka/compacted-reader.ts), which stop a consumer group.
 * Ownership is the consumer group's, dealt by the sticky assigner (a partition moved costs its
 * new owner a restore) and checked with the coordinator before an owner opens.
 */
export function kafkaDecisionLog(kafka: KafkaPort, config: WeftConfig): PortDecisionLog {
  const compacted = canReadCompacted(kafka);
  return {
    ownership: (options) => new GroupOwnership(kafka, options),
    writer: (transactionalId) => kafkaTransactionWriter(kafka, config, transactionalId),
    readCompacted: (topic, partitions, onMessage, timeoutMs, stallMs) =>
      (compacted ? readCompacted : readPartitions)(
        kafka,
        topic,
        partitions,
        onMessage,
        timeoutMs,
        stallMs,
      ),
  };
}

/** A transactional writer on Kafka for `transactionalId` (deciders' and triggers' partitions). */
export function kafkaTransactionWriter(
  kafka: KafkaPort,
  config: Pick<WeftConfig, "pipelinedCommit" | "kafkaTransactionVersion">,
  transactionalId: string,
): PortDecisionWriter {
  const pipelined = config.pipelinedCommit
    ? pipelinedProducer(kafka, {
        transactionalId,
        transactionTimeout: TRANSACTION_TIMEOUT_MS,
        transactionVersion: config.kafkaTransactionVersion,
      })
    : undefined;
  const producer: PortTransactionalProducer =
    pipelined ??
    kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      allowAutoTopicCreation: false,
      // The coordinator answers CONCURRENT_TRANSACTIONS while it still writes the markers of
      // the previous commit: retry soon rather than after kafkajs's default 300 ms. Later tries
      // back off to 500 ms and go on for about 25 s, so a leader election after a broker's
      // loss delays the transaction instead of failing it (a failed commit costs a reopen).
      retry: { initialRetryTime: 5, maxRetryTime: 500, retries: 60 },
    });
  return new TransactionWriter(producer, transactionSending);
}

/**
 * What a transaction on Kafka needs of its sender. One partition per request: kafkajs 2.2.4
 * retries a multi-partition request in a way that can write a partition's records twice
 * (kafkajs #1303, see producers/batching-producer.ts); the pipelined producer holds the
 * requests until commit, so they cost it nothing. A request's records go to the broker as one
 * record batch, refused above the topic's `max.message.bytes` (1 MiB by default), and a
 * refused batch would fail every retry of the same decision: so under MAX_REQUEST_BYTES.
 */
export const transactionSending: TransactionSending = {
  *requests(records: readonly PortTopicMessages[]): Iterable<PortTopicMessages[]> {
    for (const { topic, messages } of records)
      for (const partition of groupBy(messages, (m) => m.partition ?? -1).values())
        for (const request of bySize(partition, MAX_REQUEST_BYTES))
          yield [{ topic, messages: request }];
  },
  // kafkajs does not retry AddOffsetsToTxn on CONCURRENT_TRANSACTIONS; the broker expects it.
  async sendOffsets(tx, offsets) {
    for (let attempt = 1; ; attempt++) {
      try {
        await tx.sendOffsets(offsets);
        return;
      } catch (err) {
        const concurrent = (err as { type?: string }).type === "CONCURRENT_TRANSACTIONS";
        if (!concurrent || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, Math.min(2 * attempt, 20)));
      }
    }
  },
};

/**
 * Splits one partition's records into requests of at most about `maxBytes` (a record larger
 * than that goes alone).
 */
export function bySize(messages: PortMessage[], maxBytes: number): PortMessage[][] {
  const requests: PortMessage[][] = [];
  let current: PortMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    let size = 70 + byteLength(m.key) + byteLength(m.value);
    for (const [k, v] of Object.entries(m.headers ?? {})) size += k.length + byteLength(v);
    if (current.length > 0 && bytes + size > maxBytes) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

type Bytes = Buffer | string | null | undefined | (Buffer | string)[];
function byteLength(value: Bytes): number {
  if (value === null || value === undefined) return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + byteLength(v), 0);
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(value);
}
