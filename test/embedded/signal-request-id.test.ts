/** Signal request IDs on the embedded adapters: one directory, reopened for the restart. */
import { closeFixtures, steps, tally } from "../fixtures/workflows";
import { signalRequestIdScenario } from "../integration/signal-request-id-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();

afterAll(async () => {
  await closeFixtures();
  cleanup();
});

signalRequestIdScenario(async () => {
  return embeddedClient(dir, config, [tally], steps);
});
