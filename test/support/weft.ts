import type { WeftConfig } from "../../core/config";
import { createKafka } from "../../transport/kafka";
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime, type RuntimeOptions } from "../../sdk/runtime";
import { testLogger } from "./env";

export interface TestWeft {
  runtime: Runtime;
  client: WeftClient;
  stop(): Promise<void>;
}

/** Decider, worker and client in this process, on the config's own topics. */
export async function startTestWeft(
  config: WeftConfig,
  options: Omit<RuntimeOptions, "config">,
): Promise<TestWeft> {
  const logger = testLogger(config);
  const runtime = await startRuntime({ ...options, config, logger });
  await runtime.decider?.ready();
  const client = await WeftClient.connect({ config, logger });
  return {
    runtime,
    client,
    async stop() {
      await client.close();
      await runtime.stop();
    },
  };
}

export function kafkaFor(config: WeftConfig) {
  return createKafka(config, testLogger(config));
}
