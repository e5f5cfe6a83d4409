/**
 * The dashboard end to end: headless Chromium drives the page the API serves, against a decider,
 * a worker, a projector and the API on a real Kafka, PostgreSQL and Redis. Nothing reloads the
 * page between "started" and "completed": what changes arrives over the WebSocket. Each page's
 * screenshot goes to a temporary folder, or to docs/ with WEFT_UPDATE_SCREENSHOTS=1 (how
 * docs/dashboard.md's pictures are made), so a test run leaves the tree clean.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { WeftConfig } from "../../core/config";
import { WeftClient } from "../../sdk/client";
import { defineWorkflow } from "../../sdk";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import {
  approval,
  closeFixtures,
  echo,
  flaky,
  slow,
  sleepy,
  slowStep,
  steps,
  terminalFailure,
  threeSteps,
} from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

/** Steps one after another, three side by side (one retried), a durable wait, then one more. */
const orderFlow = defineWorkflow("orderFlow", async (ctx, input: { sleepMs: number }) => {
  await ctx.step(echo, { reserve: true });
  await Promise.all([
    ctx.step(echo, { charge: true }),
    ctx.step(
      flaky,
      { failTimes: 1 },
      { retry: { backoff: "fixed", initialIntervalMs: 200, maximumAttempts: 3 } },
    ),
    ctx.step(slow, { ms: 300 }),
  ]);
  await ctx.wait(input.sleepMs);
  return ctx.step(echo, { shipped: true });
});

const ADMIN_TOKEN = "dashboard-admin-token-0123456789";
const READ_TOKEN = "dashboard-read-token-0123456789";
const DOCS =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(__dirname, "..", "..", "docs")
    : join(tmpdir(), "weft-dashboard-screenshots");
const LIVE = 30_000;

let db: TestSchema;
let config: WeftConfig;
let engine: Runtime;
let securedApi: Runtime;
let client: WeftClient;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
let spawned: RoleProcess | undefined;

beforeAll(async () => {
  ensureDashboardBuilt();
  mkdirSync(DOCS, { recursive: true });
  db = await createTestSchema();
  // Processes register every second here, so a killed one turns stale within seconds.
  config = isolatedConfig({ databaseUrl: db.databaseUrl, registrationIntervalMs: 1000 });
  const logger = testLogger(config);
  engine = await startRuntime({
    config,
    logger,
    roles: ["decider", "worker", "projector", "api"],
    workflows: [orderFlow, threeSteps, slowStep, sleepy, approval, terminalFailure],
    steps,
    api: { port: 0, tokens: { admin: [], read: [] } },
  });
  await engine.decider?.ready();
  base = engine.api!.address;
  client = await WeftClient.connect({ config, logger });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (err) => process.stderr.write(`page error: ${err.message}\n`));
});

afterAll(async () => {
  await spawned?.kill9().catch(() => undefined);
  await browser?.close();
  await client?.close();
  await securedApi?.stop();
  await engine?.stop();
  await closeFixtures();
  await db?.drop();
});

/** The page from its top, in a viewport `height` tall (long pages show more). */
async function screenshot(name: string, { height = 900 } = {}): Promise<void> {
  await page.setViewportSize({ width: 1440, height });
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`) });
  await page.setViewportSize({ width: 1440, height: 900 });
}

/** A marker on `window` that a reload would wipe. */
async function markPage(): Promise<void> {
  await page.evaluate("window.__weftNoReload = true");
}
async function expectSamePage(): Promise<void> {
  expect(await page.evaluate("window.__weftNoReload === true")).toBe(true);
}

/** Client-side navigation, as a click on the left bar does. */
async function navigate(label: string): Promise<void> {
  await page.locator("nav.nav").getByRole("link", { name: label, exact: true }).click();
}

it("shows a run started from the UI go from running to completed without a reload", async () => {
  await page.goto(`${base}/runs`);
  await page.locator("[data-page=runs]").waitFor();
  await markPage();
  await page.getByRole("button", { name: "Start run" }).click();
  await page.locator("dialog input[name=type]").fill("slowStep");
  await page.locator("dialog textarea[name=input]").fill('{"ms": 2500}');
  await page.locator("dialog").getByRole("button", { name: "Start" }).click();
  // The dialog leads to the new run's page, which follows it live.
  const detail = page.locator("[data-page=run]");
  await detail.and(page.locator("[data-run-status=RUNNING]")).waitFor({ timeout: LIVE });
  await expect(page.locator("[data-testid=waiting-on]").textContent()).resolves.toContain("slow");
  await detail.and(page.locator("[data-run-status=COMPLETED]")).waitFor({ timeout: LIVE });
  await expectSamePage();

  // The list too: a run started through the API appears, then turns completed, in place.
  await navigate("Runs");
  const { workflowId } = await client.start("slowStep", { input: { ms: 2500 } });
  const row = page.locator(`tr[data-run="${workflowId}"]`);
  await row.and(page.locator("[data-status=RUNNING]")).waitFor({ timeout: LIVE });
  await row.and(page.locator("[data-status=COMPLETED]")).waitFor({ timeout: LIVE });
  await expectSamePage();

  // The running tab lets it go when it completes.
  const { workflowId: next } = await client.start("slowStep", { input: { ms: 2000 } });
  await page.locator("[data-tab=RUNNING]").click();
  await page.locator(`tr[data-run="${next}"]`).waitFor({ timeout: LIVE });
  await page.locator(`tr[data-run="${next}"]`).waitFor({ state: "detached", timeout: LIVE });
  await expectSamePage();
});

it("shows a run's step graph, attempts and history, each event expandable", async () => {
  const { workflowId } = await client.start("orderFlow", { input: { sleepMs: 5000 } });
  await page.goto(`${base}/runs/${encodeURIComponent(workflowId)}`);
  await markPage();
  // While it sleeps: the page says what it waits on, and the graph shows the sleep open.
  const waiting = page.locator("[data-testid=waiting-on]");
  await waiting.filter({ hasText: "timer" }).waitFor({ timeout: LIVE });
  await expect(waiting.textContent()).resolves.toMatch(/A timer #\d+ fires in \d+(\.\d)? s \(/);
  const graph = page.locator("[data-testid=step-graph]");
  await graph.locator('[data-node="sleep"][data-status="started"]').waitFor();
  await screenshot("run", { height: 1500 });
  await page.locator("[data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
  await expectSamePage();
  await graph.waitFor();
  // reserve, then three side by side, the sleep, then shipping: four columns.
  await expect(graph.locator(".graph-layer").count()).resolves.toBe(4);
  const parallel = graph.locator(".graph-layer").nth(1).locator(".graph-node");
  await expect(parallel.count()).resolves.toBe(3);
  const retried = graph.locator('[data-node="flaky"]');
  await expect(retried.locator(".attempt-dot").count()).resolves.toBe(2);
  await expect(retried.getAttribute("data-status")).resolves.toBe("completed");
  await expect(graph.locator('[data-node="sleep"]').count()).resolves.toBe(1);
  await expect(
    page.locator("[data-testid=timeline] .timeline-row").count(),
  ).resolves.toBeGreaterThan(5);

  const history = page.locator("[data-testid=history]");
  for (const type of ["WorkflowStarted", "StepFailed", "TimerFired", "WorkflowCompleted"]) {
    await expect(history.locator(`tr[data-event=${type}]`).count()).resolves.toBeGreaterThan(0);
  }
  await history.locator("tr[data-event=StepFailed]").first().click();
  await expect(history.locator(".event-body").textContent()).resolves.toContain("on purpose");
  await page.getByLabel("Event kind").selectOption("timers");
  await expect(history.locator("tr.event-row").count()).resolves.toBe(2);
  await page.getByLabel("Event kind").selectOption("all");
  await page.getByRole("button", { name: "Collapse all" }).click();
});

it("shows a failing step on the Failed page, with a link to its run", async () => {
  await page.goto(`${base}/failed`);
  await page.locator("[data-page=failed]").waitFor();
  await markPage();
  const { workflowId } = await client.start("terminalFailure", {});
  const row = page.locator(`tr[data-failed="${workflowId}"]`);
  await row.waitFor({ timeout: LIVE });
  await expect(row.textContent()).resolves.toContain("the card was declined");
  await expectSamePage();
  await screenshot("failed");
  await row.getByRole("link", { name: workflowId }).click();
  await page.locator("[data-run-status=FAILED]").waitFor({ timeout: LIVE });
  await expect(page.locator(".error-view").first().textContent()).resolves.toContain("declined");
});

it("lists a sleeping run's timer on Timers with a countdown until it fires", async () => {
  await page.goto(`${base}/timers`);
  await page.locator("[data-page=timers]").waitFor();
  await markPage();
  const { workflowId } = await client.start("sleepy", { input: { ms: 6000 } });
  const row = page.locator(`tr[data-timer="${workflowId}"]`);
  await row.waitFor({ timeout: LIVE });
  await expect(row.locator(".countdown").textContent()).resolves.toMatch(/\d+(\.\d)? s|due/);
  await screenshot("timers");
  await row.waitFor({ state: "detached", timeout: LIVE });
  await expectSamePage();
  await client.result(workflowId, { timeoutMs: LIVE });
});

it("overview: counts by status, throughput, backlog and the projector, live", async () => {
  // Some work of every kind, so the page has something to show.
  await Promise.all([
    ...Array.from({ length: 12 }, (_, n) => client.start("threeSteps", { input: { n } })),
    client.start("approval", { input: { timeoutMs: 600_000 } }),
    client.start("sleepy", { input: { ms: 600_000 } }),
  ]);
  await page.goto(`${base}/`);
  await page.locator("[data-page=overview] [data-ready]").waitFor({ timeout: LIVE });
  await markPage();
  const completed = page.locator("[data-count=COMPLETED] .card-value");
  const before = Number((await completed.textContent())!.replace(/,/g, ""));
  await client.start("threeSteps", { input: { n: 100 } });
  await waitFor("the completed count to go up", async () => {
    const now = Number((await completed.textContent())!.replace(/,/g, ""));
    return now > before;
  });
  await expectSamePage();
  await expect(page.locator(".chart polyline").count()).resolves.toBe(3);
  await page.locator("[data-queue=default]").waitFor({ timeout: LIVE });
  await page.locator(`tr[data-projector="${config.clientId}"][data-state=READY]`).waitFor();
  await screenshot("overview");
  await navigate("Runs");
  await page.locator(".runs-table").waitFor();
  await screenshot("runs");
});

it("lists registered definitions with their hosts", async () => {
  await page.goto(`${base}/definitions`);
  await page.locator("[data-page=definitions] [data-ready]").waitFor({ timeout: LIVE });
  for (const name of ["orderFlow", "threeSteps", "echo", "flaky"]) {
    await page.locator(`tr[data-definition="${name}"]`).first().waitFor();
  }
  await screenshot("definitions");
});

it("shows each live worker, and a worker killed mid-test turns stale", async () => {
  await page.goto(`${base}/workers`);
  await page.locator("[data-page=workers] [data-ready]").waitFor({ timeout: LIVE });
  await markPage();
  spawned = await spawnRoles(config, "worker", { WEFT_REGISTRATION_INTERVAL_MS: "1000" });
  const row = page.locator("tr[data-worker]", { hasText: String(spawned.pid) });
  await row.and(page.locator("[data-status=ALIVE]")).waitFor({ timeout: LIVE });
  await screenshot("workers");
  await spawned.kill9();
  spawned = undefined;
  await row.and(page.locator("[data-status=STALE]")).waitFor({ timeout: LIVE });
  await expectSamePage();
});

it("asks for a token when auth is on, and says so when a read-only token tries to cancel or signal", async () => {
  securedApi = await startRuntime({
    config,
    logger: testLogger(config),
    roles: ["api"],
    api: { port: 0, tokens: { admin: [ADMIN_TOKEN], read: [READ_TOKEN] } },
  });
  const { workflowId } = await client.start("approval", { input: { timeoutMs: 600_000 } });
  const secured = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const tab = await secured.newPage();
  try {
    await tab.goto(`${securedApi.api!.address}/runs/${encodeURIComponent(workflowId)}`);
    await tab.getByRole("alert").filter({ hasText: "needs a valid token" }).waitFor();
    await tab.getByRole("button", { name: "Enter token" }).click();
    await tab.locator("dialog input[type=password]").fill(READ_TOKEN);
    await tab.getByRole("button", { name: "Use token" }).click();
    await tab.locator("[data-run-status=RUNNING]").waitFor({ timeout: LIVE });
    await expect(tab.evaluate("sessionStorage.getItem('weft.apiToken')")).resolves.toBe(READ_TOKEN);
    await expect(tab.evaluate("localStorage.length")).resolves.toBe(0);

    await tab.getByRole("button", { name: "Cancel run…" }).click();
    await tab.locator("dialog").getByRole("button", { name: "Cancel the run" }).click();
    await tab.locator("dialog").getByText("This token is read-only").waitFor();
    await tab.locator("dialog").getByRole("button", { name: "Keep running" }).click();
    // A signal it may not send: the dialog says why and stays open.
    await tab.getByRole("button", { name: "Signal…" }).click();
    await tab.locator("dialog textarea[name=payload]").fill('{"approvedBy": "eve"}');
    await tab.getByRole("button", { name: "Send signal" }).click();
    await tab.locator("dialog").getByText("This token is read-only").waitFor();
    await expect(tab.locator("dialog").getByRole("alert").textContent()).resolves.toContain(
      "FORBIDDEN",
    );
    await tab.locator("dialog").getByRole("button", { name: "Close" }).first().click();
    await tab.locator("dialog").waitFor({ state: "detached" });

    // The write token signals it; the page follows it to completed.
    await tab.getByRole("button", { name: /API token/ }).click();
    await tab.locator("dialog input[type=password]").fill(ADMIN_TOKEN);
    await tab.getByRole("button", { name: "Use token" }).click();
    await tab.getByRole("button", { name: "Signal…" }).click();
    await expect(tab.locator("dialog input[name=name]").inputValue()).resolves.toBe("approve");
    await tab.locator("dialog textarea[name=payload]").fill('{"approvedBy": "ada"}');
    await tab.getByRole("button", { name: "Send signal" }).click();
    // Sent: the dialog closes by itself and the page says so.
    await tab.locator("dialog").waitFor({ state: "detached" });
    await tab.getByRole("status").filter({ hasText: "Signal “approve” sent" }).waitFor();
    await tab.locator("[data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
  } finally {
    await secured.close();
  }
});
