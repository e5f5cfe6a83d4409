/** Invariant 7 on the embedded adapters: two versions of the code, one after the other, on one directory. */
import { startEmbedded } from "../../sdk/embedded";
import { closeFixtures, steps } from "../fixtures/workflows";
import { determinismScenario } from "../integration/determinism-scenario";
import { isolatedConfig, testLogger } from "../support/env";
import { tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();

afterAll(async () => {
  await closeFixtures();
  cleanup();
});

determinismScenario(async (workflow) => {
  const weft = await startEmbedded({
    dir,
    workflows: [workflow],
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
