import { TestEnvironment } from "jest-environment-node";
import { Kafka, logLevel } from "kafkajs";
import { deleteTopicsOf, PREFIXES_KEY } from "./topic-cleanup";

/**
 * Node's test environment that, once a test file is done (its own afterAll hooks included),
 * deletes the Kafka topics of the prefixes it made (isolatedConfig): a suite of a few hundred
 * files otherwise leaves the shared broker thousands of partitions to carry on its heap.
 */
export default class TopicCleanupEnvironment extends TestEnvironment {
  override async teardown(): Promise<void> {
    const prefixes = [...((this.global[PREFIXES_KEY] as Set<string> | undefined) ?? [])];
    if (prefixes.length > 0) {
      const kafka = new Kafka({
        brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
        logLevel: logLevel.NOTHING,
        retry: { retries: 2 },
      });
      // A broker that is down (a fault test stopped it) leaves the topics for the next run.
      await deleteTopicsOf(kafka, prefixes).catch(() => undefined);
    }
    await super.teardown();
  }
}
