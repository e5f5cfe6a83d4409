/**
 * The harness's own Kafka client: Weft's (its admin rides out a coordinator still loading after
 * a broker's kill, as the roles' does), its warnings to the run's harness log, not the screen.
 */
import { logLevel, type Kafka } from "kafkajs";
import { WeftKafka } from "../adapters/kafka/client";

export function harnessKafka(brokers: string, log: (line: string) => void): Kafka {
  return new WeftKafka({
    clientId: `weft-chaos-${process.pid}`,
    brokers: brokers.split(","),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 10 },
    logCreator:
      () =>
      ({ namespace, log: entry }) => {
        const { message, error } = entry as { message: string; error?: string };
        if (message.startsWith("KafkaJS v2.0.0 switched default partitioner")) return;
        log(`kafkajs ${namespace}: ${message}${error ? ` (${String(error)})` : ""}`);
      },
  });
}
