/**
 * Timeouts and versioning on the embedded adapters (timeouts-scenario.ts), with the execution
 * cache and without it (every event replays the run from its history, so `ctx.patched` is
 * answered from history on every decision).
 */
import type { ConfigInput } from "../../core/config";
import { timeoutsScenario } from "../integration/timeouts-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    timeoutsScenario(name, (workflows, steps) => embeddedClient(dir, config, workflows, steps));
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
