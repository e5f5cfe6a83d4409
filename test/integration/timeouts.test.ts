/** Timeouts and versioning on the real broker (timeouts-scenario.ts). */
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { timeoutsScenario } from "./timeouts-scenario";

const config = isolatedConfig();

timeoutsScenario("kafka", async (workflows, steps) => {
  const weft = await startTestWeft(config, { workflows, steps });
  return { client: weft.client, stop: () => weft.stop() };
});
