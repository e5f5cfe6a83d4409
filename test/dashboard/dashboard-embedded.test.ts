/**
 * The same dashboard against embedded mode: decider, worker, projector and API in this process
 * on the embedded log (no Kafka, no Redis), read models in PostgreSQL. Registration, a run
 * started from the UI and followed live to completed, its step graph, the process list, and
 * the projector on the overview: ready, with a record it sent to the DLQ.
 */
import type { Browser, Page } from "playwright-core";
import { topics, type WeftConfig } from "../../core/config";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { closeFixtures, slowStep, steps, threeSteps } from "../fixtures/workflows";
import { tempDir } from "../embedded/helpers";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

const LIVE = 30_000;
const { dir, cleanup } = tempDir();
let db: TestSchema;
let weft: EmbeddedWeft;
let browser: Browser;
let page: Page;
let base: string;
let config: WeftConfig;

beforeAll(async () => {
  ensureDashboardBuilt();
  db = await createTestSchema();
  config = isolatedConfig({
    databaseUrl: db.databaseUrl,
    redisUrl: "redis://127.0.0.1:1",
    registrationIntervalMs: 1000,
  });
  const logger = testLogger(config);
  weft = await startEmbedded({
    dir,
    workflows: [threeSteps, slowStep],
    steps,
    api: { port: 0, tokens: { admin: [], read: [] } },
    // Given explicitly, so the test does not depend on DATABASE_URL being set.
    database: (options) => openReadModelDb(config, logger, options),
    sync: "never",
    config,
    logger,
  });
  base = weft.api!.address;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await weft?.stop();
  await closeFixtures();
  await db?.drop();
  cleanup();
});

it("shows registration, a run started from the UI live to completed, and the process", async () => {
  await page.goto(`${base}/definitions`);
  await page.locator('tr[data-definition="slowStep"]').waitFor({ timeout: LIVE });

  await page.locator("nav.nav").getByRole("link", { name: "Runs", exact: true }).click();
  await page.evaluate("window.__weftNoReload = true");
  await page.getByRole("button", { name: "Start run" }).click();
  await page.locator("dialog input[name=type]").fill("slowStep");
  await page.locator("dialog textarea[name=input]").fill('{"ms": 1500}');
  await page.locator("dialog").getByRole("button", { name: "Start" }).click();
  await page.locator("[data-page=run][data-run-status=RUNNING]").waitFor({ timeout: LIVE });
  await page.locator("[data-page=run][data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
  await page.locator('[data-testid=step-graph] [data-node="slow"]').waitFor();
  await page.locator("[data-testid=history] tr[data-event=WorkflowCompleted]").waitFor();
  expect(await page.evaluate("window.__weftNoReload === true")).toBe(true);

  await page.locator("nav.nav").getByRole("link", { name: "Workers", exact: true }).click();
  const row = page.locator("tr[data-worker]", { hasText: String(process.pid) });
  await row.and(page.locator("[data-status=ALIVE]")).waitFor({ timeout: LIVE });
  await page.locator("nav.nav").getByRole("link", { name: "Overview", exact: true }).click();
  await page.locator("[data-page=overview] [data-ready]").waitFor({ timeout: LIVE });
});

it("shows the projector ready on the overview, and the record it sent to the DLQ", async () => {
  const producer = weft.backends.transport.producer();
  await producer.connect();
  const [sent] = await producer.send({
    topic: topics.history(config),
    messages: [{ key: "poison", partition: 1, value: Buffer.from("not avro"), headers: {} }],
  });
  await producer.disconnect();
  await page.goto(`${base}/`);
  const projector = page.locator(`tr[data-projector="${config.clientId}"][data-state=READY]`);
  await projector.locator("[data-dead-letters='1']").waitFor({ timeout: LIVE });
  const last = await projector.locator("[data-last-dead-letter]").textContent();
  expect(last).toContain(`${topics.history(config)} #1 @ ${sent!.baseOffset}`);
  expect(last).toContain("expected schema");
});
