import { Gauge, type Registry } from "prom-client";
import type { Logger } from "../core/logger";
import type { PartitionLag } from "../transport/consumer-lag";

/**
 * `weft_consumer_lag{group,topic,partition}`, read from the reader on every scrape. A scrape
 * during a Kafka outage shows no series rather than stale ones.
 */
export function registerConsumerLagGauge(
  registry: Registry,
  reader: { snapshot(): Promise<readonly PartitionLag[]> },
  logger: Logger,
): Gauge {
  const log = logger.child({ component: "metrics" });
  return new Gauge({
    name: "weft_consumer_lag",
    help: "Records a consumer group has yet to process, by group, topic and partition",
    labelNames: ["group", "topic", "partition"],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { group, topic, partition, lag } of await reader.snapshot()) {
          this.set({ group, topic, partition: String(partition) }, lag);
        }
      } catch (err) {
        log.warn({ err }, "could not read consumer lag");
      }
    },
  });
}
