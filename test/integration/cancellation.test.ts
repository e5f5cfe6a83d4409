/** Cancellation that reaches the code on the real broker (cancellation-scenario.ts). */
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { cancellationScenario } from "./cancellation-scenario";

const config = isolatedConfig();

cancellationScenario("kafka", async () => {
  const weft = await startTestWeft(config, {
    workflows: transferWorkflows,
    steps: transferSteps,
  });
  return { client: weft.client, stop: () => weft.stop() };
});
