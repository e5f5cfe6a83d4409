import type { Kafka, Producer } from "kafkajs";
import { topics, type WeftConfig } from "../core/config";
import { commandCodec } from "../schemas/codec";
import type { Command } from "../schemas/types";
import { BatchingProducer } from "./batching-producer";

/**
 * Produces schema-checked commands to `weft.commands`, keyed by workflow ID so that every
 * command of a run lands on the partition its decider owns, in order.
 */
export class CommandProducer {
  private readonly producer: Producer;
  private readonly batching: BatchingProducer;
  private readonly topic: string;

  constructor(kafka: Kafka, config: WeftConfig) {
    // Idempotent: a retried send never duplicates a command.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.batching = new BatchingProducer(this.producer);
    this.topic = topics.commands(config);
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  send(command: Command): Promise<void> {
    const value = commandCodec.encode(command);
    return this.batching.send(this.topic, {
      key: command.workflowId,
      value,
      headers: { ...commandCodec.headers },
    });
  }

  async close(): Promise<void> {
    await this.batching.flush();
    await this.producer.disconnect();
  }
}
