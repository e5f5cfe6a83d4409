/** Invariant 7 on the real broker (the scenario: determinism-scenario.ts). */
import { closeFixtures, steps } from "../fixtures/workflows";
import { isolatedConfig } from "../support/env";
import { startTestWeft } from "../support/weft";
import { determinismScenario } from "./determinism-scenario";

const config = isolatedConfig();

afterAll(() => closeFixtures());

determinismScenario(async (workflow) => {
  const weft = await startTestWeft(config, { workflows: [workflow], steps });
  return { client: weft.client, stop: () => weft.stop() };
});
