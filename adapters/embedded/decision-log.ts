import { readPartitions } from "../../transport/history-reader";
import type { KafkaPort, PortDecisionLog } from "../../transport/port";
import { TransactionWriter } from "../../transport/transaction-writer";

/**
 * The decision log on the embedded log: a transaction of its own producer per decision (all
 * of it in one append, no request limits to keep), and the restore read through its consumer
 * groups (it leaves no empty batches to step over).
 */
export function embeddedDecisionLog(log: KafkaPort): PortDecisionLog {
  return {
    writer: (transactionalId) =>
      new TransactionWriter(
        log.producer({
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
        }),
      ),
    readCompacted: (topic, partitions, onMessage, timeoutMs, stallMs) =>
      readPartitions(log, topic, partitions, onMessage, timeoutMs, stallMs),
  };
}
