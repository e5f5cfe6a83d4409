/**
 * Run operations on the embedded adapters (run-operations-scenario.ts), with the execution
 * cache and without it (every event replays the run: a reset run's reused steps must rebuild
 * from its own history).
 */
import type { ConfigInput } from "../../core/config";
import { orderSteps, orderWorkflows } from "../fixtures/orders-reset";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { runOperationsScenario } from "../integration/run-operations-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    runOperationsScenario(name, () =>
      embeddedClient(
        dir,
        config,
        [...orderWorkflows, ...transferWorkflows],
        [...orderSteps, ...transferSteps],
      ),
    );
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
