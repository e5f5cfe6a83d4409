/**
 * Parent and children on the run page, in headless Chromium against embedded mode: a parent's
 * page lists its children with their status, each a link to the child's page, names the child
 * it still awaits under "waiting on" (a link too), and a child's page links back to its parent. The screenshot goes to a temporary folder, or to docs/ with
 * WEFT_UPDATE_SCREENSHOTS=1.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import { familyParent, familySteps, familyWorkflows } from "../fixtures/children";
import { isolatedConfig, testLogger } from "../support/env";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

const LIVE = 30_000;
const DOCS =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(__dirname, "..", "..", "docs")
    : join(tmpdir(), "weft-dashboard-screenshots");
const { dir, cleanup } = tempDir();
let weft: EmbeddedWeft;
let client: WeftClient;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ensureDashboardBuilt();
  const config = isolatedConfig({
    databaseUrl: `sqlite:${join(dir, "read-models.db")}`,
    redisUrl: "redis://127.0.0.1:1",
  });
  const logger = testLogger(config);
  weft = await startEmbedded({
    dir: join(dir, "log"),
    workflows: familyWorkflows,
    steps: familySteps,
    api: { port: 0, tokens: { admin: [], read: [] } },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  client = await weft.connectClient();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await weft?.stop();
  cleanup();
});

it("links a parent's page to its children's and back", async () => {
  const parentId = "order-77";
  await client.start(familyParent, {
    workflowId: parentId,
    input: { count: 3, done: 2, policy: "abandon" },
  });
  await page.goto(`${weft.api!.address}/runs/${encodeURIComponent(parentId)}`);
  const children = page.locator("[data-testid=run-children] li");
  await page
    .locator("section.panel#children h2", { hasText: "Children (3)" })
    .waitFor({ timeout: LIVE });
  await children.filter({ hasText: "COMPLETED" }).nth(1).waitFor({ timeout: LIVE });
  expect((await children.locator("a").allInnerTexts()).sort()).toEqual([
    "order-77/1",
    "order-77/2",
    "order-77/3",
  ]);
  // The parent still awaits its held child: "waiting on" names it, with its type and a link.
  const waits = page.locator("[data-testid=waiting-on]");
  await waits.locator("[data-testid=waiting-child]").first().waitFor({ timeout: LIVE });
  await expect(waits.locator("[data-testid=waiting-child]").allInnerTexts()).resolves.toEqual([
    "order-77/3",
  ]);
  await expect(waits.innerText()).resolves.toMatch(
    /Child workflow familyChild order-77\/3 \(#3\) to close/,
  );
  await page.locator("section.panel#children").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(DOCS, "dashboard-run-children.png") });

  await children.locator("a", { hasText: "order-77/3" }).click();
  await page.locator("h1.run-id", { hasText: "order-77/3" }).waitFor({ timeout: LIVE });
  const parent = page.locator("[data-testid=run-parent] a");
  await expect(parent.innerText()).resolves.toBe(parentId);
  await parent.click();
  await page.locator("h1.run-id", { hasText: parentId }).waitFor({ timeout: LIVE });
  // The child named in "waiting on" is a link to its page too.
  await page.locator("[data-testid=waiting-on] [data-testid=waiting-child]").click();
  await page.locator("h1.run-id", { hasText: "order-77/3" }).waitFor({ timeout: LIVE });
});
