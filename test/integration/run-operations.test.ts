/** Run operations on the real broker (run-operations-scenario.ts). */
import { orderSteps, orderWorkflows } from "../fixtures/orders-reset";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { runOperationsScenario } from "./run-operations-scenario";

const config = isolatedConfig();

runOperationsScenario("kafka", async () => {
  const weft = await startTestWeft(config, {
    workflows: [...orderWorkflows, ...transferWorkflows],
    steps: [...orderSteps, ...transferSteps],
  });
  return { client: weft.client, stop: () => weft.stop() };
});
