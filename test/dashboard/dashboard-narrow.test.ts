/**
 * What a new user reads on the dashboard: a failed step's own error before Weft's stack, retry
 * policies in words, the signal dialog closing once sent, and every page fitting a phone's
 * 390 px. Embedded mode with the read models in SQLite (no Kafka, PostgreSQL or Redis), driven
 * by headless Chromium. Screenshots go to a temporary folder, or to docs/ with
 * WEFT_UPDATE_SCREENSHOTS=1 (how docs/dashboard.md's phone pictures are made).
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { WeftConfig } from "../../core/config";
import { ReadModelDb } from "../../projections/read-model-db";
import { defineStep, defineWorkflow } from "../../sdk";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import {
  approval,
  closeFixtures,
  echo,
  flaky,
  sleepy,
  steps,
  threeSteps,
} from "../fixtures/workflows";
import { isolatedConfig, testLogger } from "../support/env";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

class CardDeclinedError extends Error {
  override name = "CardDeclinedError";
}

/** The user's own code, a frame or two below the step's handler. */
function checkCard(card: string): void {
  if (card.endsWith("0002")) throw new CardDeclinedError(`card ${card} was declined`);
}

const chargeCard = defineStep(
  "chargeCard",
  (input: { card: string }) => {
    checkCard(input.card);
    return { charged: true };
  },
  {
    retry: {
      maximumAttempts: 4,
      initialIntervalMs: 100,
      maximumIntervalMs: 30_000,
      nonRetryableErrors: ["CardDeclinedError"],
    },
  },
);

const checkout = defineWorkflow("checkout", async (ctx, input: { card: string }) => {
  await ctx.step(echo, { reserved: true });
  await ctx.step(flaky, { failTimes: 1 }, { retry: { backoff: "fixed", initialIntervalMs: 100 } });
  return ctx.step(chargeCard, input);
});

/** Workflow code of the user's that throws, a call below the workflow's function. */
function pickWarehouse(items: number): string {
  if (items > 10) throw new RangeError(`no warehouse holds ${items} items`);
  return "north";
}

const reserve = defineWorkflow("reserve", async (ctx, input: { items: number }) => {
  await ctx.step(echo, { items: input.items });
  return pickWarehouse(input.items);
});

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };
const LIVE = 30_000;
const DOCS =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(__dirname, "..", "..", "docs")
    : join(tmpdir(), "weft-dashboard-screenshots");

const PHONE_SHOTS = join(tmpdir(), "weft-dashboard-screenshots", "phone");

const { dir, cleanup } = tempDir();
let config: WeftConfig;
let weft: EmbeddedWeft;
let client: WeftClient;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
let failedRun: string;
let completedRun: string;

beforeAll(async () => {
  ensureDashboardBuilt();
  mkdirSync(DOCS, { recursive: true });
  mkdirSync(PHONE_SHOTS, { recursive: true });
  config = isolatedConfig({ redisUrl: "redis://127.0.0.1:1", registrationIntervalMs: 1000 });
  weft = await startEmbedded({
    dir,
    workflows: [checkout, reserve, threeSteps, approval, sleepy],
    steps: [...steps, chargeCard],
    api: { port: 0, tokens: { admin: [], read: [] } },
    // SQLite in the test's folder, whatever DATABASE_URL says.
    database: () => ReadModelDb.sqlite(join(dir, "read-models.db")),
    sync: "never",
    config,
    logger: testLogger(config),
  });
  base = weft.api!.address;
  client = await weft.connectClient();
  failedRun = (await client.start("checkout", { input: { card: "4000 0000 0000 0002" } }))
    .workflowId;
  completedRun = (await client.start("checkout", { input: { card: "4242 4242 4242 4242" } }))
    .workflowId;
  for (let n = 0; n < 6; n++) await client.start("threeSteps", { input: { n } });
  await client.start("sleepy", { input: { ms: 600_000 } });
  await expect(client.result(failedRun, { timeoutMs: LIVE })).rejects.toThrow("declined");
  await client.result(completedRun, { timeoutMs: LIVE });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: DESKTOP });
  page = await context.newPage();
  page.on("pageerror", (err) => process.stderr.write(`page error: ${err.message}\n`));
});

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await weft?.stop();
  await closeFixtures();
  cleanup();
});

const runUrl = (id: string) => `${base}/runs/${encodeURIComponent(id)}`;

/** Where `text` first appears in the element's text, or -1. */
async function indexIn(selector: string, text: string): Promise<number> {
  const all = (await page.locator(selector).first().textContent()) ?? "";
  return all.indexOf(text);
}

it("shows a failed step's own error first, with Weft's frames folded", async () => {
  await page.setViewportSize(DESKTOP);
  await page.goto(runUrl(failedRun));
  await page.locator("[data-page=run][data-run-status=FAILED]").waitFor({ timeout: LIVE });
  const panel = page.locator(".run-error");
  await panel.waitFor();
  // The step's error, as the user's code threw it: its name and message, above everything.
  const view = panel.locator("[data-testid=error-view]").first();
  await expect(view.locator(".error-name").textContent()).resolves.toBe("CardDeclinedError");
  await expect(view.locator("[data-testid=error-message]").textContent()).resolves.toBe(
    "card 4000 0000 0000 0002 was declined",
  );
  await expect(panel.locator(".error-origin").textContent()).resolves.toContain("chargeCard");
  // Then the user's frames, shown; Weft's (the step runner, Node) folded behind a toggle.
  const stack = view.locator("[data-testid=stack]");
  const userFrames = stack.locator(".user-frames .frame");
  await expect(userFrames.first().isVisible()).resolves.toBe(true);
  await expect(userFrames.first().textContent()).resolves.toContain("checkCard");
  await expect(stack.locator(".user-frames").first().textContent()).resolves.toContain(
    "dashboard-narrow.test.ts",
  );
  const weft = stack.locator("details.weft-frames");
  await expect(weft.count()).resolves.toBeGreaterThan(0);
  const toggle = weft.first().locator("summary");
  await expect(toggle.textContent()).resolves.toMatch(/^\d+ Weft frames?$/);
  for (const details of await weft.all()) {
    await expect(details.getAttribute("open")).resolves.toBeNull();
    await expect(details.locator(".frame").first().isVisible()).resolves.toBe(false);
  }
  // The message comes before any Weft frame; the run's own (Weft's) error only after both.
  const message = await indexIn(".run-error", "card 4000 0000 0000 0002 was declined");
  const runner = await indexIn(".run-error", "step-runner");
  const own = await indexIn(".run-error", "StepFailedError");
  expect(message).toBeGreaterThanOrEqual(0);
  expect(runner).toBeGreaterThan(message);
  expect(own).toBeGreaterThan(runner);
  await expect(page.locator(".run-error-own").getAttribute("open")).resolves.toBeNull();
  // A click unfolds them.
  await toggle.click();
  await expect(weft.first().locator(".frame").first().isVisible()).resolves.toBe(true);
  await expect(weft.first().textContent()).resolves.toContain("workers/step-runner");
  await toggle.click();
  // The retried attempt of another step is listed too, its message first.
  const earlier = page.locator("[data-testid=failed-attempts] [data-attempt^='flaky#']");
  await expect(earlier.locator("[data-testid=error-message]").textContent()).resolves.toBe(
    "attempt 1 failed on purpose",
  );
  await page.screenshot({ path: join(DOCS, "dashboard-run-failed.png"), fullPage: false });
});

it("shows an error thrown by workflow code with the workflow's frames, Weft's folded", async () => {
  await page.setViewportSize(DESKTOP);
  const { workflowId } = await client.start("reserve", { input: { items: 12 } });
  await expect(client.result(workflowId, { timeoutMs: LIVE })).rejects.toThrow("no warehouse");
  await page.goto(runUrl(workflowId));
  await page.locator("[data-run-status=FAILED]").waitFor({ timeout: LIVE });
  const view = page.locator("[data-testid=error-view]").first();
  await expect(view.locator(".error-name").textContent()).resolves.toBe("RangeError");
  await expect(view.locator("[data-testid=error-message]").textContent()).resolves.toBe(
    "no warehouse holds 12 items",
  );
  const stack = view.locator("[data-testid=stack]");
  await expect(stack.locator(".user-frames .frame").first().textContent()).resolves.toContain(
    "pickWarehouse",
  );
  await expect(stack.locator(".user-frames .frame").first().isVisible()).resolves.toBe(true);
  // What follows the workflow's frames depends on how it resumed (Node's timers or none).
  for (const details of await stack.locator("details.weft-frames").all()) {
    await expect(details.getAttribute("open")).resolves.toBeNull();
    await expect(details.locator(".frame").first().isVisible()).resolves.toBe(false);
  }
  await expect(stack.locator(".user-frames").first().textContent()).resolves.toContain(
    "dashboard-narrow.test.ts",
  );
});

it("shows the user's frames first on the Failed page", async () => {
  await page.setViewportSize(DESKTOP);
  await page.goto(`${base}/failed`);
  const row = page.locator(`tr[data-failed="${failedRun}"][data-step=chargeCard]`);
  await row.waitFor({ timeout: LIVE });
  await expect(row.locator(".error-name").textContent()).resolves.toBe("CardDeclinedError");
  await expect(row.locator(".error-message").textContent()).resolves.toContain("declined");
  await row.getByRole("button", { name: "stack" }).click();
  const stack = page.locator(`tr[data-stack-of="${failedRun}"] [data-testid=stack]`);
  await expect(stack.locator(".user-frames .frame").first().textContent()).resolves.toContain(
    "checkCard",
  );
  await expect(stack.locator("details.weft-frames").first().getAttribute("open")).resolves.toBe(
    null,
  );
  await expect(stack.locator("details.weft-frames .frame").first().isVisible()).resolves.toBe(
    false,
  );
});

it("says each step's retry policy in words, with the JSON behind a toggle", async () => {
  await page.setViewportSize(DESKTOP);
  await page.goto(`${base}/definitions`);
  const charge = page.locator('tr[data-definition="chargeCard"] .retry-policy');
  await charge.waitFor({ timeout: LIVE });
  await expect(charge.locator(".retry-text").textContent()).resolves.toBe(
    "4 attempts · 100 ms → ×2 → max 30 s · non-retryable: CardDeclinedError",
  );
  const json = charge.locator("details.retry-json");
  await expect(json.getAttribute("open")).resolves.toBeNull();
  await json.locator("summary").click();
  await expect(json.locator("code").textContent()).resolves.toContain('"maximumAttempts": 4');
  // A step with no policy of its own says the engine's.
  await expect(
    page.locator('tr[data-definition="echo"] .retry-policy').textContent(),
  ).resolves.toBe("default: 3 attempts · 1 s → ×2 → max 1 min");
});

it("closes the signal dialog once the signal is sent, and keeps it open on an error", async () => {
  await page.setViewportSize(DESKTOP);
  const { workflowId } = await client.start("approval", { input: { timeoutMs: 600_000 } });
  await page.goto(runUrl(workflowId));
  await page.locator("[data-run-status=RUNNING]").waitFor({ timeout: LIVE });
  await page.locator("[data-testid=waiting-on]").filter({ hasText: "approve" }).waitFor();
  await page.getByRole("button", { name: "Signal…" }).click();
  const dialog = page.locator("dialog");
  await expect(dialog.locator("input[name=name]").inputValue()).resolves.toBe("approve");
  // An error says which, and the dialog stays open to fix it.
  await dialog.locator("textarea[name=payload]").fill("{not json");
  await dialog.getByRole("button", { name: "Send signal" }).click();
  await dialog.getByRole("alert").filter({ hasText: "INVALID_INPUT" }).waitFor();
  await expect(dialog.isVisible()).resolves.toBe(true);
  await dialog.locator("textarea[name=payload]").fill('{"approvedBy": "ada"}');
  await dialog.getByRole("button", { name: "Send signal" }).click();
  await dialog.waitFor({ state: "detached" });
  await expect(page.locator("[data-testid=signal-sent]").textContent()).resolves.toContain(
    "approve",
  );
  await page.locator("[data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
});

it("fits every page in a phone's 390 px, with no page wider than the screen", async () => {
  const phone = await browser.newContext({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const tab = await phone.newPage();
  tab.on("pageerror", (err) => process.stderr.write(`page error: ${err.message}\n`));
  const pages: [string, string, string?][] = [
    ["/", "[data-page=overview] [data-ready]"],
    ["/runs", "[data-page=runs] [data-ready]", "runs"],
    [`/runs/${encodeURIComponent(failedRun)}`, "[data-run-status=FAILED] .run-error", "run"],
    [
      `/runs/${encodeURIComponent(completedRun)}`,
      "[data-run-status=COMPLETED] [data-testid=history]",
    ],
    ["/failed", "[data-page=failed] [data-ready]"],
    ["/workers", "[data-page=workers] [data-ready]"],
    ["/timers", "[data-page=timers] [data-ready]"],
    ["/definitions", "[data-page=definitions] [data-ready]"],
  ];
  try {
    for (const [path, ready, shot] of pages) {
      await tab.goto(`${base}${path}`);
      await tab.locator(ready).first().waitFor({ timeout: LIVE });
      const widths = await tab.evaluate<{ page: number; viewport: number }>(
        "({ page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth })",
      );
      expect({ path, ...widths }).toEqual({ path, page: PHONE.width, viewport: PHONE.width });
      // The navigation is there, every link of it on screen.
      for (const link of await tab.locator("nav.nav a").all()) {
        const box = await link.boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= PHONE.width).toBe(true);
      }
      // Every page to look at by eye; the runs list and the failed run for the docs.
      const name = path === "/" ? "overview" : path.split("/")[1]!;
      await tab.screenshot({
        path: join(PHONE_SHOTS, `${name}-${path.length}.png`),
        fullPage: true,
      });
      if (shot) {
        // After the rows' change highlight has faded.
        await tab.waitForTimeout(1500);
        await tab.screenshot({ path: join(DOCS, `dashboard-phone-${shot}.png`) });
      }
    }
    // Open dialogs fit too.
    await tab.goto(`${base}/runs`);
    await tab.getByRole("button", { name: "Start run" }).click();
    const box = await tab.locator("dialog").boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= PHONE.width).toBe(true);
  } finally {
    await phone.close();
  }
});
