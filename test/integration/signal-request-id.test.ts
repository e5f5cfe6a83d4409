/** Signal request IDs on the real broker (the scenario: signal-request-id-scenario.ts). */
import { closeFixtures, steps, tally } from "../fixtures/workflows";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { signalRequestIdScenario } from "./signal-request-id-scenario";

const config = isolatedConfig();

afterAll(() => closeFixtures());

signalRequestIdScenario(async () => {
  const weft = await startTestWeft(config, { workflows: [tally], steps });
  return { client: weft.client, stop: () => weft.stop() };
});
