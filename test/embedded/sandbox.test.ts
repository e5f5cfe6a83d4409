/** The workflow sandbox on the embedded adapters (the scenario: integration/sandbox-scenario.ts). */
import { sandboxScenario } from "../integration/sandbox-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

const config = isolatedConfig({ executionCacheSize: 0 });
const { dir, cleanup } = tempDir();

afterAll(() => cleanup());

sandboxScenario(async (workflows, steps) => {
  return embeddedClient(dir, config, workflows, steps);
});
