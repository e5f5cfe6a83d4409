import { readPartitions } from "../../transport/history-reader";
import type { PortDecisionLog } from "../../transport/port";
import type { EmbeddedKafka } from "./embedded-kafka";
import { TransactionWriter } from "../../transport/transaction-writer";

/**
 * The decision log on the embedded log: a transaction of its own producer per decision (all
 * of it in one append, no request limits to keep), and the restore read through its topic
 * reader (it leaves no empty batches to step over). Ownership is its groups': members of this
 * process, partitions dealt round-robin, each member knowing exactly what it holds.
 */
export function embeddedDecisionLog(log: EmbeddedKafka): PortDecisionLog {
  return {
    ownership: (options) => log.ownership(options),
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
