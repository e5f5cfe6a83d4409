import { GroupOwnership } from "../../transport/group-ownership";
import { readPartitions } from "../../transport/history-reader";
import type { KafkaPort, PortDecisionLog } from "../../transport/port";
import { TransactionWriter } from "../../transport/transaction-writer";

/**
 * The decision log on the embedded log: a transaction of its own producer per decision (all
 * of it in one append, no request limits to keep), and the restore read through its consumer
 * groups (it leaves no empty batches to step over). Ownership is its consumer groups': members
 * of this process, partitions dealt round-robin (the log cannot be asked for a member's view:
 * the writer's fence decides).
 */
export function embeddedDecisionLog(log: KafkaPort): PortDecisionLog {
  return {
    ownership: (options) => new GroupOwnership(log, options),
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
