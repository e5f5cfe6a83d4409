/** The workflow sandbox on the embedded adapters (the scenario: integration/sandbox-scenario.ts). */
import { startEmbedded } from "../../sdk/embedded";
import { sandboxScenario } from "../integration/sandbox-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

const config = isolatedConfig({ executionCacheSize: 0 });
const { dir, cleanup } = tempDir();

afterAll(() => cleanup());

sandboxScenario(async (workflows, steps) => {
  const weft = await startEmbedded({
    dir,
    workflows,
    steps,
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
