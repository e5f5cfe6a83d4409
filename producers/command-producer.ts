import type { KafkaPort, PortProducer } from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import { commandCodec, commandHeaders } from "../schemas/codec";
import type { Command } from "../schemas/types";
import { withAdmin } from "../transport/kafka";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import { BatchingProducer } from "./batching-producer";

/**
 * Produces schema-checked commands to `weft.commands`, keyed by workflow ID so that every
 * command of a run lands on the partition its decider owns, in order.
 */
export class CommandProducer {
  private readonly producer: PortProducer;
  private readonly batching: BatchingProducer;
  private readonly topic: string;
  private partitions = 0;

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
  }

  async connect(): Promise<void> {
    this.partitions = await withAdmin(this.kafka, (admin) => partitionCount(admin, this.topic));
    await this.producer.connect();
  }

  send(command: Command): Promise<void> {
    if (this.partitions === 0)
      return Promise.reject(new Error("CommandProducer.send before connect()"));
    const value = commandCodec.encode(command);
    return this.batching.send(this.topic, {
      key: command.workflowId,
      // The decider owning this partition writes the run's history to the same partition.
      partition: partitionForKey(this.topic, command.workflowId, this.partitions),
      value,
      headers: commandHeaders(command),
    });
  }

  async close(): Promise<void> {
    await this.batching.flush();
    await this.producer.disconnect();
  }
}
