/** The harness's own kafkajs client: its warnings go to the run's harness log, not the screen. */
import { Kafka, logLevel } from "kafkajs";

export function harnessKafka(brokers: string, log: (line: string) => void): Kafka {
  return new Kafka({
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
