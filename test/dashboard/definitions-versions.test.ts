/**
 * The Definitions page, in headless Chromium against embedded mode (read models in SQLite):
 * after a deploy of a patched workflow, each version's row counts the runs still open under it
 * (what tells an operator the old branch may go), and the webhook triggers of the API's process
 * are listed with the deliveries they accepted. The screenshot goes to a temporary folder, or to
 * docs/ with WEFT_UPDATE_SCREENSHOTS=1.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { definitionHash } from "../../producers/registration-publisher";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import type { TriggerDefinition } from "../../triggers/definition";
import { tempDir } from "../embedded/helpers";
import { feeV1, feeV2, timeoutSteps } from "../fixtures/timeouts";
import { HOOK_TOKEN, startHook } from "../fixtures/triggers";
import { steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

const LIVE = 30_000;
const DOCS =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(__dirname, "..", "..", "docs")
    : join(tmpdir(), "weft-dashboard-screenshots");
const { dir, cleanup } = tempDir();
const config = isolatedConfig({
  databaseUrl: `sqlite:${join(dir, "read-models.db")}`,
  redisUrl: "redis://127.0.0.1:1",
});
const logger = testLogger(config);
let weft: EmbeddedWeft | undefined;
let browser: Browser | undefined;

function open(
  workflows: readonly AnyWorkflowDefinition[],
  triggers: readonly TriggerDefinition[] = [],
): Promise<EmbeddedWeft> {
  return startEmbedded({
    dir: join(dir, "log"),
    workflows,
    steps: [...new Set([...timeoutSteps, ...steps])],
    triggers,
    api: { port: 0, tokens: { admin: [], read: [] } },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
}

beforeAll(() => ensureDashboardBuilt());

afterAll(async () => {
  await browser?.close();
  await weft?.stop();
  cleanup();
});

it("counts open runs per version after a deploy and lists the webhook triggers", async () => {
  weft = await open([feeV1]);
  let client = await weft.connectClient();
  for (let i = 0; i < 2; i++) await client.start(feeV1, { input: { cents: 100 } });
  await client.close();
  await weft.stop();

  // The deploy: the patched fee workflow, and a webhook that starts threeSteps runs.
  weft = await open([feeV2, threeSteps], [startHook]);
  client = await weft.connectClient();
  await client.start(feeV2, { input: { cents: 100 } });
  for (const delivery of ["dlv-1", "dlv-2", "dlv-2"]) {
    const res = await fetch(`${weft.api!.address}/hooks/start-hook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${HOOK_TOKEN}`,
        "x-weft-delivery": delivery,
      },
      body: JSON.stringify({ n: 1 }),
    });
    expect(res.status).toBe(202);
  }
  await client.close();

  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(`${weft.api!.address}/definitions`);
  const openRuns = (hash: string) =>
    page
      .locator("tr[data-definition=fee]")
      .filter({ has: page.locator(`[title="${hash}"]`) })
      .locator("td[data-label='open runs']");
  const [v1, v2] = [
    definitionHash(feeV1.fn, feeV1.options),
    definitionHash(feeV2.fn, feeV2.options),
  ];
  await waitFor(
    "two open runs under the old version, one under the new",
    async () =>
      (await openRuns(v1).count()) === 1 &&
      (await openRuns(v1).innerText()) === "2" &&
      (await openRuns(v2).innerText()) === "1",
    LIVE,
  );
  const hook = page.locator("tr[data-trigger=start-hook]");
  await expect(hook.locator("td[data-label=source]").innerText()).resolves.toBe(
    "/hooks/start-hook",
  );
  // Three deliveries, two of them one retried delivery: each accepted, one run each ID.
  await expect(hook.locator("td[data-label=accepted]").innerText()).resolves.toBe("3");
  await expect(hook.locator("td[data-label=refused]").innerText()).resolves.toBe("0");
  await page.screenshot({ path: join(DOCS, "dashboard-definitions-versions.png"), fullPage: true });
}, 120_000);
