import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import type { KafkaPort, PortDecisionLog } from "../transport/port";
import type { TriggerDefinition } from "./definition";
import { KafkaTrigger } from "./kafka-trigger";
import type { TriggerCounters } from "./trigger-counters";

export interface TriggerRole {
  readonly triggers: readonly KafkaTrigger[];
  stop(): Promise<void>;
}

/**
 * The trigger role: one consumer per Kafka trigger, each started on its own and waiting (on
 * /readyz) while Kafka, or the trigger's topic, is not there yet. Webhook triggers are served
 * by the api role instead.
 */
export async function startTriggerRole(options: {
  config: WeftConfig;
  kafka: KafkaPort;
  /** The source partitions' atomic commits, from the backends. */
  decisionLog: PortDecisionLog;
  logger: Logger;
  triggers: readonly TriggerDefinition[];
  counters: TriggerCounters;
  readiness?: Readiness;
  signal?: AbortSignal;
}): Promise<TriggerRole> {
  const log = options.logger.child({ role: "trigger" });
  const consumers = options.triggers
    .filter((t) => t.source.type === "kafka")
    .map((trigger) => new KafkaTrigger({ ...options, trigger }));
  const wait = { role: "trigger", log, readiness: options.readiness, signal: options.signal };
  const started = await Promise.allSettled(
    consumers.map((consumer) =>
      untilAvailable(wait, "kafka", `start trigger ${consumer.name}`, () => consumer.start()),
    ),
  );
  const stop = async () => {
    await Promise.all(consumers.map((c) => c.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { triggers: consumers, stop };
}
