/**
 * Cancelling part of a run on the embedded adapters (scopes-scenario.ts), with the execution
 * cache and without it (every event replays the run from its history, its cancels included).
 */
import type { ConfigInput } from "../../core/config";
import { scopeSteps, scopeWorkflows } from "../fixtures/scopes";
import { scopesScenario } from "../integration/scopes-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    scopesScenario(name, () => embeddedClient(dir, config, scopeWorkflows, scopeSteps));
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
