/** Invariant 7 on the embedded adapters: two versions of the code, one after the other, on one directory. */
import { closeFixtures, steps } from "../fixtures/workflows";
import { determinismScenario } from "../integration/determinism-scenario";
import { isolatedConfig } from "../support/env";
import { embeddedClient, tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();

afterAll(async () => {
  await closeFixtures();
  cleanup();
});

determinismScenario(async (workflow) => {
  return embeddedClient(dir, config, [workflow], steps);
});
