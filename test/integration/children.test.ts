/** Child workflows on the real broker (children-scenario.ts). */
import { familySteps, familyWorkflows } from "../fixtures/children";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { childrenScenario } from "./children-scenario";

const config = isolatedConfig();

childrenScenario("kafka", async () => {
  const weft = await startTestWeft(config, { workflows: familyWorkflows, steps: familySteps });
  return { client: weft.client, stop: () => weft.stop() };
});
