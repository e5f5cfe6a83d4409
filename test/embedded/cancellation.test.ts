/**
 * Cancellation that reaches the code on the embedded adapters (cancellation-scenario.ts), with
 * the execution cache and without it (every event replays the run from its history: a cleanup
 * begun after a cancel must rebuild the same way).
 */
import type { ConfigInput } from "../../core/config";
import { startEmbedded } from "../../sdk/embedded";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { cancellationScenario } from "../integration/cancellation-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

function embedded(name: string, overrides: ConfigInput): void {
  describe(name, () => {
    const config = isolatedConfig(overrides);
    const { dir, cleanup } = tempDir();
    afterAll(() => cleanup());

    cancellationScenario(name, async () => {
      const weft = await startEmbedded({
        dir,
        workflows: transferWorkflows,
        steps: transferSteps,
        database: false,
        sync: "never",
        config,
        logger: testLogger(config),
      });
      const client = await weft.connectClient();
      return {
        client,
        async stop() {
          await client.close();
          await weft.stop();
        },
      };
    });
  });
}

embedded("embedded", {});
embedded("embedded-always-replay", { executionCacheSize: 0 });
