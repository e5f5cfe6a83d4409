/**
 * What the trigger tests read back: every committed record of a topic (commands, dead
 * letters), through the transport port, so the same checks run on Kafka and the embedded log.
 */
import { randomUUID } from "node:crypto";
import type { WeftConfig } from "../../core/config";
import { topics } from "../../core/config";
import { commandCodec, deadLetterCodec } from "../../schemas/codec";
import type { Command, DeadLetter } from "../../schemas/types";
import type { KafkaPort, PortConsumedMessage, PortConsumer } from "../../transport/port";

export interface TopicRecords {
  readonly messages: readonly PortConsumedMessage[];
  stop(): Promise<void>;
}

/** Follows `topic` from its start (read_committed) in a group of its own until stopped. */
export async function followTopic(kafka: KafkaPort, topic: string): Promise<TopicRecords> {
  const messages: PortConsumedMessage[] = [];
  const consumer: PortConsumer = kafka.consumer({
    groupId: `${topic}.test-reader.${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      messages.push(...batch.messages);
      await Promise.resolve();
    },
  });
  return { messages, stop: () => consumer.disconnect() };
}

/** The commands a trigger produced: those whose request ID names it. */
export function triggerCommands(records: TopicRecords, trigger: string): Command[] {
  return records.messages
    .map((m) => commandCodec.decode(m.value, m.headers))
    .filter((c) => {
      const body = c.body;
      return (
        (body.type === "StartWorkflow" || body.type === "SignalWorkflow") &&
        body.requestId.startsWith(`trigger/${trigger}/`)
      );
    });
}

/** The dead letters a trigger's consumer group wrote. */
export function triggerDeadLetters(
  records: TopicRecords,
  config: WeftConfig,
  trigger: string,
): DeadLetter[] {
  return records.messages
    .map((m) => deadLetterCodec.decode(m.value, m.headers))
    .filter((d) => d.consumer === `${config.topicPrefix}.trigger.${trigger}`);
}

export { topics };
