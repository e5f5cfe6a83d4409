/**
 * The run page's Terminate, Re-run and Reset buttons in headless Chromium, against the roles
 * and the API on Kafka, PostgreSQL and Redis: each asks for confirmation first (closing the
 * dialog sends nothing), a reset opens the new run's page, and a read-only token is refused.
 * The screenshot goes to a temporary folder, or to docs/ with WEFT_UPDATE_SCREENSHOTS=1.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { WorkflowFailedError } from "../../core/errors";
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import {
  brokenCarriers,
  orderFlow,
  orderInvocations,
  orderSteps,
  orderWorkflows,
} from "../fixtures/orders-reset";
import { transfer, transferSteps, transferWorkflows } from "../fixtures/transfer";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { ensureDashboardBuilt, launchBrowser } from "./browser";

const ADMIN_TOKEN = "dashboard-ops-admin-token-0123456789";
const READ_TOKEN = "dashboard-ops-read-token-0123456789";
const LIVE = 30_000;
const DOCS =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(__dirname, "..", "..", "docs")
    : join(tmpdir(), "weft-dashboard-screenshots");

let db: TestSchema;
let engine: Runtime;
let client: WeftClient;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ensureDashboardBuilt();
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  engine = await startRuntime({
    config,
    logger,
    roles: ["decider", "worker", "projector", "api"],
    workflows: [...orderWorkflows, ...transferWorkflows],
    steps: [...orderSteps, ...transferSteps],
    api: { port: 0, tokens: { admin: [ADMIN_TOKEN], read: [READ_TOKEN] } },
  });
  await engine.decider?.ready();
  client = await WeftClient.connect({ config, logger });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.on("pageerror", (err) => process.stderr.write(`page error: ${err.message}\n`));
});

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await engine?.stop();
  await db?.drop();
});

/** Opens the run's page with the token and waits for the run in the status given. */
async function openRun(workflowId: string, token: string, status: string): Promise<void> {
  await page.goto(`${engine.api!.address}/runs/${encodeURIComponent(workflowId)}`);
  await page.evaluate(`sessionStorage.setItem('weft.apiToken', ${JSON.stringify(token)})`);
  await page.reload();
  await page.locator(`[data-run-status=${status}]`).waitFor({ timeout: LIVE });
}

it("terminates a run only once confirmed, and refuses a read-only token", async () => {
  const { workflowId } = await client.start(transfer, {
    input: { transfer: "ui-terminate", cents: 3, awaitApproval: true },
  });
  await openRun(workflowId, READ_TOKEN, "RUNNING");
  await page.getByRole("button", { name: "Terminate…" }).click();
  await page.locator("dialog").getByRole("button", { name: "Terminate the run" }).click();
  await page.locator("dialog").getByText("This token is read-only").waitFor();
  await page.locator("dialog").getByRole("button", { name: "Close" }).first().click();

  await openRun(workflowId, ADMIN_TOKEN, "RUNNING");
  // Closing the confirmation sends nothing.
  await page.getByRole("button", { name: "Terminate…" }).click();
  await page.locator("dialog").getByRole("button", { name: "Close" }).first().click();
  await page.locator("dialog").waitFor({ state: "detached" });
  expect((await client.getHistory(workflowId)).at(-1)!.body.type).not.toBe("WorkflowCancelled");

  await page.getByRole("button", { name: "Terminate…" }).click();
  await page.locator("dialog input[name=reason]").fill("from the dashboard");
  await page.locator("dialog").getByRole("button", { name: "Terminate the run" }).click();
  await page.locator("[data-run-status=CANCELLED]").waitFor({ timeout: LIVE });
  expect((await client.getHistory(workflowId)).at(-1)!.body).toMatchObject({
    type: "WorkflowCancelled",
    reason: "from the dashboard",
    terminated: true,
  });
}, 90_000);

it("resets a failed run to its failed step and opens the new run", async () => {
  const order = "ui-reset";
  brokenCarriers.add(order);
  await client.start(orderFlow, { workflowId: order, input: { order, cents: 8 } });
  await expect(client.result(order, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
    WorkflowFailedError,
  );
  brokenCarriers.delete(order);
  await openRun(order, ADMIN_TOKEN, "FAILED");
  await page.getByRole("button", { name: "Reset to step…" }).click();
  // The failed step is offered first.
  await expect(page.locator("dialog select[name=toStepSeq]").inputValue()).resolves.toBe("3");
  await page.screenshot({ path: join(DOCS, "dashboard-run-reset.png") });
  await page.locator("dialog").getByRole("button", { name: "Reset to step #3" }).click();
  await page.locator("[data-run-status=COMPLETED]").waitFor({ timeout: LIVE });
  expect(decodeURIComponent(new URL(page.url()).pathname)).toMatch(/^\/runs\/ui-reset\.reset-/);
  expect(orderInvocations("reserve", order)).toBe(1);
  expect(orderInvocations("ship", order)).toBe(2);
}, 90_000);
