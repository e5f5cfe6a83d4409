/** Cancellation that reaches the code on the embedded adapters (cancellation-scenario.ts). */
import { startEmbedded } from "../../sdk/embedded";
import { transferSteps, transferWorkflows } from "../fixtures/transfer";
import { cancellationScenario } from "../integration/cancellation-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();

afterAll(() => cleanup());

cancellationScenario("embedded", async () => {
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
