/**
 * The Schedules page, in headless Chromium against embedded mode (read models in SQLite): a
 * schedule ticking every second is listed with its spec, policy and next tick, and its count of
 * runs goes up live, without a reload; a paused one says so. The screenshot goes to a temporary
 * folder, or to docs/ with WEFT_UPDATE_SCREENSHOTS=1.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import { recordTick, scheduledJob } from "../fixtures/scheduled";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
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
    workflows: [scheduledJob],
    steps: [recordTick],
    schedules: true,
    api: { port: 0, tokens: { admin: [], read: [] } },
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  client = await weft.connectClient();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await weft?.stop();
  cleanup();
});

it("lists schedules with their next tick and follows their runs live", async () => {
  await client.schedules.create({
    name: "every-second",
    spec: { everyMs: 1000 },
    workflowType: "scheduledJob",
    overlap: "allow",
  });
  await client.schedules.create({
    name: "paused-hourly",
    spec: { cron: "0 * * * *" },
    workflowType: "scheduledJob",
    paused: true,
  });
  await page.goto(`${weft.api!.address}/schedules`);
  const ticking = page.locator("tr[data-schedule=every-second]");
  await ticking.waitFor({ timeout: LIVE });
  await expect(ticking.locator("td[data-label=spec]").innerText()).resolves.toBe("every 1.0 s");
  await expect(ticking.locator("td[data-label=overlap]").innerText()).resolves.toMatch(/^allow/);
  const runs = ticking.locator("td[data-label=runs]");
  // The count rises on the open page: the run's updates reach it live.
  await waitFor(
    "three runs on the open page",
    async () => Number(await runs.innerText()) >= 3,
    LIVE,
  );
  expect(Number(await runs.innerText())).toBeGreaterThanOrEqual(3);
  const paused = page.locator("tr[data-schedule=paused-hourly]");
  await expect(paused.locator("td[data-label=name]").innerText()).resolves.toMatch(/paused/);
  await expect(paused.locator("td[data-label='next tick']").innerText()).resolves.toBe("–");
  await page.locator("nav.nav").getByRole("link", { name: "Schedules", exact: true }).waitFor();
  await page.screenshot({ path: join(DOCS, "dashboard-schedules.png") });
}, 120_000);
