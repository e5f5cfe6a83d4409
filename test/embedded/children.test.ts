/**
 * Child workflows on the embedded adapters (children-scenario.ts), with the execution cache
 * and without it (every event replays the parent from its history).
 */
import type { ConfigInput } from "../../core/config";
import { familySteps, familyWorkflows } from "../fixtures/children";
import { childrenScenario } from "../integration/children-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    childrenScenario(name, () => embeddedClient(dir, config, familyWorkflows, familySteps));
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
