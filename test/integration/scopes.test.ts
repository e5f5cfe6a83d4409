/** Cancelling part of a run on the real broker (scopes-scenario.ts), cached and replaying. */
import { scopeSteps, scopeWorkflows } from "../fixtures/scopes";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { scopesScenario } from "./scopes-scenario";

for (const [name, executionCacheSize] of [
  ["kafka", undefined],
  ["kafka-always-replay", 0],
] as const) {
  describe(name, () => {
    const config = isolatedConfig(executionCacheSize === 0 ? { executionCacheSize } : {});
    scopesScenario(name, async () => {
      const weft = await startTestWeft(config, { workflows: scopeWorkflows, steps: scopeSteps });
      return { client: weft.client, stop: () => weft.stop() };
    });
  });
}
