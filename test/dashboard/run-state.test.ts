/**
 * Run state on the run page, in headless Chromium against embedded mode (every role in this
 * process, read models in SQLite): the state panel shows what ctx.setState published, pretty
 * JSON, and follows each new state live without a reload. The screenshot goes to a temporary
 * folder, or to docs/dashboard-run-state.png with WEFT_UPDATE_SCREENSHOTS=1.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import { approvalCounter, runStateWorkflows } from "../fixtures/run-state";
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
  mkdirSync(DOCS, { recursive: true });
  const config = isolatedConfig({
    databaseUrl: `sqlite:${join(dir, "read-models.db")}`,
    redisUrl: "redis://127.0.0.1:1",
  });
  const logger = testLogger(config);
  weft = await startEmbedded({
    dir: join(dir, "log"),
    workflows: runStateWorkflows,
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

it("shows the run's state as pretty JSON and follows each new state live", async () => {
  const workflowId = "release-2031-approvals";
  await client.signalWithStart(approvalCounter, {
    workflowId,
    input: { needed: 3 },
    signal: "approve",
    payload: { by: "ada" },
  });
  await page.goto(`${weft.api!.address}/runs/${encodeURIComponent(workflowId)}`);
  const panel = page.locator("section.panel#state");
  const json = panel.locator("pre.json");
  await json.filter({ hasText: '"approvals": 1' }).waitFor({ timeout: LIVE });
  const note = panel.locator("[data-testid=state-note]");
  await expect(note.innerText()).resolves.toMatch(/^Live/);

  // A new state reaches the open page by itself: no reload.
  await client.signal(workflowId, "approve", { by: "grace" });
  await json.filter({ hasText: '"approvals": 2' }).waitFor({ timeout: LIVE });
  expect(JSON.parse(await json.innerText())).toEqual({
    approvals: 2,
    needed: 3,
    by: ["ada", "grace"],
    phase: "collecting",
  });
  await page.locator("[data-page=run][data-run-status=RUNNING]").waitFor({ timeout: LIVE });
  await panel.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(DOCS, "dashboard-run-state.png") });

  await client.signal(workflowId, "approve", { by: "linus" });
  await page.locator("[data-page=run][data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
  await json.filter({ hasText: '"phase": "approved"' }).waitFor({ timeout: LIVE });
  await expect(note.innerText()).resolves.toMatch(/before it ended/);
});
