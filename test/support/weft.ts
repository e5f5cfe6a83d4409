import type { WeftConfig } from "../../core/config";
import { createKafka } from "../../adapters/kafka/client";
import type { KafkaPort } from "../../transport/port";
import type { Backends } from "../../adapters/backends";
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime, type RuntimeOptions } from "../../sdk/runtime";
import { testLogger } from "./env";

export interface TestWeft {
  runtime: Runtime;
  client: WeftClient;
  /** The roles' transport: Kafka, or the embedded log. */
  transport: KafkaPort;
  stop(): Promise<void>;
}

/**
 * Decider, worker and client in this process, on the config's own topics: on Kafka and Redis,
 * or on the given backends (e.g. `embeddedBackends`, closed by `stop()`).
 */
export async function startTestWeft(
  config: WeftConfig,
  options: Omit<RuntimeOptions, "config">,
): Promise<TestWeft> {
  const logger = testLogger(config);
  const backends: Backends = options.backends ?? { transport: createKafka(config, logger) };
  const runtime = await startRuntime({ ...options, backends, config, logger });
  await runtime.decider?.ready();
  const client = await WeftClient.connect({ config, logger, transport: backends.transport });
  return {
    runtime,
    client,
    transport: backends.transport,
    async stop() {
      await client.close();
      await runtime.stop();
      await backends.close?.();
    },
  };
}

export function kafkaFor(config: WeftConfig) {
  return createKafka(config, testLogger(config));
}
