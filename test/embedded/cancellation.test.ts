/**
 * Cancellation that reaches the code on the embedded adapters (cancellation-scenario.ts), with
 * the execution cache and without it (every event replays the run from its history: a cleanup
 * begun after a cancel must rebuild the same way).
 */
import type { ConfigInput } from "../../core/config";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { cancellationScenario } from "../integration/cancellation-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    cancellationScenario(name, () => embeddedClient(dir, config, transferWorkflows, transferSteps));
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
