/**
 * Step logs on the run page, in headless Chromium against embedded mode (every role in this
 * process, read models in SQLite): each attempt's lines under its row of the timeline, a short
 * log open, a flood collapsed with its dropped count. The screenshot goes to a temporary folder,
 * or to docs/dashboard-step-logs.png with WEFT_UPDATE_SCREENSHOTS=1.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openReadModelDb } from "../../projections/read-model-db";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import { stepLogsFlow, stepLogsSteps, stepLogsWorkflows } from "../integration/step-logs-scenario";
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
    workflows: stepLogsWorkflows,
    steps: stepLogsSteps,
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

it("shows each attempt's log lines under the attempt, a long log collapsed", async () => {
  const { workflowId } = await client.start(stepLogsFlow.name, {
    workflowId: "order-7781",
    input: { order: "A-7781" },
  });
  await client.result(workflowId, { timeoutMs: LIVE });
  await page.goto(`${weft.api!.address}/runs/${encodeURIComponent(workflowId)}`);
  await page.locator("[data-page=run][data-run-status=COMPLETED]").waitFor({ timeout: LIVE });

  const logsOf = (attempt: string) =>
    page.locator(`[data-testid=attempt-logs][data-attempt="${attempt}"]`);
  const first = logsOf("logsThenRetries#1.1");
  await first.waitFor({ timeout: LIVE });
  await expect(first.locator(".log-line").allInnerTexts()).resolves.toEqual([
    expect.stringMatching(/INFO\s+charging the card\s+\{"order":"A-7781","attempt":1\}/),
    expect.stringMatching(/ERROR\s+the card network timed out\s+\{"retryable":true\}/),
  ]);
  const second = logsOf("logsThenRetries#1.2");
  await expect(second.locator(".log-message").allInnerTexts()).resolves.toEqual([
    "charging the card",
    "charged on a later attempt",
  ]);
  // Short logs are open; the flood is collapsed and says what it dropped.
  await expect(second.getAttribute("open")).resolves.toBe("");
  const flood = logsOf("logsALot#2.1");
  await expect(flood.getAttribute("open")).resolves.toBeNull();
  await expect(flood.locator("summary").innerText()).resolves.toMatch(
    /^100 log lines, 9,900 dropped/,
  );
  await expect(flood.locator(".log-line").first().isVisible()).resolves.toBe(false);

  const attempts = page.locator("section.panel", { has: page.locator("[data-testid=timeline]") });
  await attempts.scrollIntoViewIfNeeded();
  await attempts.screenshot({ path: join(DOCS, "dashboard-step-logs.png") });
});
