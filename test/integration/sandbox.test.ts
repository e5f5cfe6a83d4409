/** The workflow sandbox on the real broker (the scenario: sandbox-scenario.ts). */
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { sandboxScenario } from "./sandbox-scenario";

const config = isolatedConfig({ commandPartitions: 1, taskPartitions: 1, executionCacheSize: 0 });

sandboxScenario(async (workflows, steps) => {
  const weft = await startTestWeft(config, { workflows, steps });
  return { client: weft.client, stop: () => weft.stop() };
});
