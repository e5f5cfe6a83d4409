/** Signal request IDs on the embedded adapters: one directory, reopened for the restart. */
import { startEmbedded } from "../../sdk/embedded";
import { closeFixtures, steps, tally } from "../fixtures/workflows";
import { signalRequestIdScenario } from "../integration/signal-request-id-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();

afterAll(async () => {
  await closeFixtures();
  cleanup();
});

signalRequestIdScenario(async () => {
  const weft = await startEmbedded({
    dir,
    workflows: [tally],
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
