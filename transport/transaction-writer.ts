import type {
  PortCommitTransaction,
  PortDecision,
  PortDecisionWriter,
  PortTopicMessages,
  PortTransactionalProducer,
  PortTransactionOffsets,
} from "./port";

/** How an adapter sends a decision's parts inside its transaction (its client's limits). */
export interface TransactionSending {
  /** The decision's records as requests, in order; default all in one. */
  requests?(records: readonly PortTopicMessages[]): Iterable<PortTopicMessages[]>;
  /** Sends the consumed offset; default `tx.sendOffsets`. */
  sendOffsets?(tx: PortCommitTransaction, offsets: PortTransactionOffsets): Promise<void>;
}

/**
 * A decision writer over a transactional producer: one transaction per decision, its records
 * and the consumed offset, committed after `beforeCommit`, aborted on any failure.
 */
export class TransactionWriter implements PortDecisionWriter {
  constructor(
    private readonly producer: PortTransactionalProducer,
    private readonly sending: TransactionSending = {},
  ) {}

  async connect(): Promise<void> {
    await this.producer.connect();
    // A producer that only initialises its ID at its first transaction (kafkajs's) fences
    // the previous owner there: so the fence is taken now, not at the first decision.
    const fence = await this.producer.transaction();
    await fence.abort();
  }

  async commit(decision: PortDecision, beforeCommit?: () => Promise<void>): Promise<void> {
    const tx = await this.producer.transaction();
    try {
      const requests = this.sending.requests?.(decision.records) ?? [[...decision.records]];
      for (const topicMessages of requests) {
        if (topicMessages.length > 0) await tx.sendBatch({ topicMessages, acks: -1 });
      }
      const { consumed } = decision;
      if (consumed) {
        const offsets: PortTransactionOffsets = {
          consumerGroupId: consumed.groupId,
          topics: [
            {
              topic: consumed.topic,
              partitions: [{ partition: consumed.partition, offset: consumed.offset.toString() }],
            },
          ],
        };
        await (this.sending.sendOffsets?.(tx, offsets) ?? tx.sendOffsets(offsets));
      }
      await beforeCommit?.();
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}
