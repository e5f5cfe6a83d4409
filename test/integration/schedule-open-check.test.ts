/**
 * The lookup the `skip` and `buffer` overlap policies rely on (producers/schedule-steps.ts
 * historyOpenCheck), on Kafka and on the embedded log: a run waiting on a timer is open, a
 * completed one is not, and a run with no history yet (its start not applied) counts as open.
 */
import { historyOpenCheck } from "../../producers/schedule-steps";
import { embeddedBackends } from "../../adapters/embedded-backends";
import { closeFixtures, sleepy, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger } from "../support/env";
import { startTestWeft, type TestWeft } from "../support/weft";
import { tempDir } from "../embedded/helpers";

afterAll(async () => {
  await closeFixtures();
});

describe.each(["kafka", "embedded"] as const)("on %s", (transport) => {
  const config = isolatedConfig();
  const dir = tempDir();
  let weft: TestWeft;

  beforeAll(async () => {
    const logger = testLogger(config);
    weft = await startTestWeft(config, {
      workflows: [sleepy, threeSteps],
      steps,
      ...(transport === "embedded"
        ? { backends: await embeddedBackends({ directory: dir.dir, sync: "never", logger }) }
        : {}),
    });
  });

  afterAll(async () => {
    await weft.stop();
    dir.cleanup();
  });

  it("tells open runs from closed ones", async () => {
    const isOpen = historyOpenCheck(weft.transport, config, testLogger(config));
    const done = await weft.client.start(threeSteps, { input: { n: 1 } });
    await weft.client.result(done.workflowId, { timeoutMs: 30_000 });
    const waiting = await weft.client.start(sleepy, { input: { ms: 600_000 } });
    // Open from its start on, before and after the decider applied it.
    expect(await isOpen(waiting.workflowId)).toBe(true);
    await expect(isOpen(done.workflowId)).resolves.toBe(false);
    expect(await isOpen("never-started-run")).toBe(true);
    await weft.client.cancel(waiting.workflowId, "done with it");
    await weft.client.result(waiting.workflowId, { timeoutMs: 30_000 }).catch(() => undefined);
    expect(await isOpen(waiting.workflowId)).toBe(false);
  }, 90_000);
});
