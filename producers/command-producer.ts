import type { KafkaPort, PortAdmin, PortProducer } from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import { commandCodec, commandHeaders } from "../schemas/codec";
import type { Command } from "../schemas/types";
import { withAdmin } from "../transport/topics";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import { acknowledgedWithin } from "./acknowledged-within";
import { BatchingProducer } from "./batching-producer";

/**
 * Produces schema-checked commands to `weft.commands`, keyed by workflow ID so that every
 * command of a run lands on the partition its decider owns, in order.
 */
export class CommandProducer {
  private readonly producer: PortProducer;
  private readonly batching: BatchingProducer;
  private readonly topic: string;
  private readonly ackTimeoutMs: number;
  private partitions = 0;
  /** For offsets of the commands topic: connected on first use, for the producer's life. */
  private admin: { client: PortAdmin; connected: Promise<void> } | undefined;

  constructor(
    private readonly kafka: KafkaPort,
    config: WeftConfig,
  ) {
    // Idempotent: a retried send never duplicates a command. Retries outlast a leader
    // election (several seconds when a broker dies).
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, maxRetryTime: 3000, retries: 20 },
    });
    this.batching = new BatchingProducer(this.producer);
    this.topic = topics.commands(config);
    this.ackTimeoutMs = config.commandAckTimeoutMs;
  }

  async connect(): Promise<void> {
    this.partitions = await withAdmin(this.kafka, (admin) => partitionCount(admin, this.topic));
    await this.producer.connect();
  }

  /**
   * Resolves once Kafka acknowledged the command; rejects NOT_ACKNOWLEDGED when it did not
   * within `commandAckTimeoutMs` (the send goes on) or refused it after its retries.
   */
  send(command: Command): Promise<void> {
    if (this.partitions === 0)
      return Promise.reject(new Error("CommandProducer.send before connect()"));
    const value = commandCodec.encode(command);
    const sent = this.batching.send(this.topic, {
      key: command.workflowId,
      // The decider owning this partition writes the run's history to the same partition.
      partition: this.partitionFor(command.workflowId),
      value,
      headers: commandHeaders(command),
    });
    return acknowledgedWithin(sent, this.ackTimeoutMs, command);
  }

  /**
   * The partition the run's commands go to, and its end offset now: every command of the run
   * acknowledged before this call sits below `end`.
   */
  async partitionEnd(workflowId: string): Promise<{ partition: number; end: bigint }> {
    if (this.partitions === 0) throw new Error("CommandProducer.partitionEnd before connect()");
    const partition = this.partitionFor(workflowId);
    const offsets = await (await this.connectedAdmin()).fetchTopicOffsets(this.topic);
    const high = offsets.find((o) => o.partition === partition)?.high;
    if (high === undefined) throw new Error(`${this.topic} has no partition ${partition}`);
    return { partition, end: BigInt(high) };
  }

  /** The offset a consumer group committed on a partition of the commands topic (0: none). */
  async committedOffset(groupId: string, partition: number): Promise<bigint> {
    const groups = await (
      await this.connectedAdmin()
    ).fetchOffsets({ groupId, topics: [this.topic] });
    const offset = groups
      .find((g) => g.topic === this.topic)
      ?.partitions.find((p) => p.partition === partition)?.offset;
    // Kafka says -1 for a partition the group never committed on.
    return offset === undefined || BigInt(offset) < 0n ? 0n : BigInt(offset);
  }

  async close(): Promise<void> {
    await this.batching.flush();
    await this.producer.disconnect();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) {
      await admin.connected.catch(() => undefined);
      await admin.client.disconnect();
    }
  }

  /** The partition of the commands topic the run's commands go to. */
  partitionFor(workflowId: string): number {
    if (this.partitions === 0) throw new Error("CommandProducer.partitionFor before connect()");
    return partitionForKey(this.topic, workflowId, this.partitions);
  }

  private async connectedAdmin(): Promise<PortAdmin> {
    let admin = this.admin;
    if (!admin) {
      const client = this.kafka.admin();
      const created = { client, connected: client.connect() };
      // A failed connect is not kept: the next call tries again.
      created.connected.catch(() => {
        if (this.admin === created) this.admin = undefined;
      });
      this.admin = admin = created;
    }
    await admin.connected;
    return admin.client;
  }
}
