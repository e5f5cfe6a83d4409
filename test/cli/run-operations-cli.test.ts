/**
 * `weft workflow terminate|rerun|reset` and `weft workflows terminate|rerun|reset` end to end: the
 * roles and the API in one runtime on Kafka, PostgreSQL and Redis; the CLI as a child process
 * from its sources, reaching the API through WEFT_API_URL.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { WorkflowCancelledError, WorkflowFailedError } from "../../core/errors";
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
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ROOT = join(__dirname, "..", "..");

let db: TestSchema;
let engine: Runtime;
let client: WeftClient;

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  engine = await startRuntime({
    config,
    logger,
    roles: ["decider", "worker", "projector", "api"],
    workflows: [...orderWorkflows, ...transferWorkflows],
    steps: [...orderSteps, ...transferSteps],
    api: { port: 0, tokens: { admin: [], read: [] } },
  });
  await engine.decider?.ready();
  client = await WeftClient.connect({ config, logger });
});

afterAll(async () => {
  await client?.close();
  await engine?.stop();
  await db?.drop();
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function weft(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/weft.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, WEFT_API_URL: engine.api!.address },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function startedAtOf(workflowId: string): Promise<string> {
  const res = await httpGql<{ workflow: { startedAt: string } | null }>(
    engine.api!.address,
    `query ($id: String!) { workflow(id: $id) { startedAt } }`,
    { id: workflowId },
  );
  const startedAt = res.data?.workflow?.startedAt;
  if (startedAt === undefined) throw new Error(`no startedAt for ${workflowId}`);
  return startedAt;
}

async function statusOf(workflowId: string): Promise<string | undefined> {
  const res = await httpGql<{ workflow: { status: string } | null }>(
    engine.api!.address,
    `query ($id: String!) { workflow(id: $id) { status } }`,
    { id: workflowId },
  );
  return res.data?.workflow?.status;
}

it("workflows terminate counts first, then terminates the open runs of the filter", async () => {
  const ids = ["cli-bulk-a", "cli-bulk-b"];
  for (const id of ids)
    await client.start(transfer, {
      workflowId: id,
      input: { transfer: id, cents: 1, awaitApproval: true },
    });
  for (const id of ids)
    await waitFor(`${id} running in the API`, async () => (await statusOf(id)) === "RUNNING");

  const noFilter = await weft(["workflows", "terminate", "--yes"]);
  expect(noFilter.code).toBe(2);
  expect(noFilter.stderr).toMatch(/^weft: INVALID_INPUT: give a filter/);

  const dry = await weft(["workflows", "terminate", "--text", "cli-bulk-", "--dry-run"]);
  expect(dry).toMatchObject({ code: 0, stderr: "" });
  // Newest first: by the time each run's WorkflowStarted was recorded (the two starts may be
  // decided on different partitions, in either order), then by ID.
  const started = new Map<string, string>();
  for (const id of ids) started.set(id, await startedAtOf(id));
  const newestFirst = [...ids].sort(
    (a, b) => started.get(b)!.localeCompare(started.get(a)!) || a.localeCompare(b),
  );
  expect(dry.stdout.trimEnd().split("\n")).toEqual(["2 run(s) match", ...newestFirst]);
  // Without --yes it only counts too, and says how to go on.
  const unconfirmed = await weft(["workflows", "terminate", "--text", "cli-bulk-"]);
  expect(unconfirmed.stderr).toBe("weft: nothing sent: add --yes to terminate these runs\n");
  for (const id of ids) expect(await statusOf(id)).toBe("RUNNING");

  const done = await weft([
    "workflows",
    "terminate",
    "--text",
    "cli-bulk-",
    "--reason",
    "cleanup",
    "--yes",
    "--json",
  ]);
  expect(done.code).toBe(0);
  const result = JSON.parse(done.stdout) as {
    matched: number;
    remaining: number;
    applied: { workflowId: string; error: string | null }[];
  };
  expect(result).toMatchObject({ matched: 2, remaining: 0 });
  expect(result.applied.map((a) => a.workflowId).sort()).toEqual(ids);
  for (const id of ids)
    await expect(client.result(id, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
      WorkflowCancelledError,
    );
}, 90_000);

it("workflow reset reuses the results before the step; terminate and rerun act on one run", async () => {
  const order = "cli-reset";
  brokenCarriers.add(order);
  await client.start(orderFlow, { workflowId: order, input: { order, cents: 40 } });
  await expect(client.result(order, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
    WorkflowFailedError,
  );
  await waitFor("the failed run in the API", async () => (await statusOf(order)) === "FAILED");
  brokenCarriers.delete(order);

  const badPoint = await weft(["workflow", "reset", order, "8"]);
  expect(badPoint.code).toBe(2);
  expect(badPoint.stderr).toMatch(/^weft: INVALID_RESET_POINT: .*its steps are 1, 2, 3\n$/);

  const reset = await weft(["workflow", "reset", order, "3", "--new-id", "cli-reset-2"]);
  expect(reset).toMatchObject({ code: 0, stdout: "cli-reset-2\n" });
  expect(reset.stderr).toMatch(/2 step results reused/);
  await expect(client.result("cli-reset-2", { timeoutMs: 30_000 })).resolves.toEqual({
    reservation: `${order}-r1`,
    charged: 40,
  });
  expect(orderInvocations("reserve", order)).toBe(1);

  const rerun = await weft(["workflow", "rerun", order, "--new-id", "cli-rerun-2"]);
  expect(rerun).toMatchObject({ code: 0, stdout: "cli-rerun-2\n" });
  await expect(client.result("cli-rerun-2", { timeoutMs: 30_000 })).resolves.toEqual({
    reservation: `${order}-r2`,
    charged: 40,
  });

  await client.start(transfer, {
    workflowId: "cli-terminate",
    input: { transfer: "cli-terminate", cents: 1, awaitApproval: true },
  });
  await waitFor("the run in the API", async () => (await statusOf("cli-terminate")) === "RUNNING");
  const terminated = await weft([
    "workflow",
    "terminate",
    "cli-terminate",
    "--reason",
    "stuck",
    "--request-id",
    "cli-t-1",
  ]);
  expect(terminated).toMatchObject({
    code: 0,
    stdout: "terminate sent to cli-terminate (request ID cli-t-1)\n",
  });
  await expect(client.result("cli-terminate", { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
    WorkflowCancelledError,
  );
}, 90_000);

it("workflows reset counts first, then resets each failed run of the filter to its failed step", async () => {
  const order = "cli-bulk-reset";
  brokenCarriers.add(order);
  await client.start(orderFlow, { workflowId: order, input: { order, cents: 7 } });
  await expect(client.result(order, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
    WorkflowFailedError,
  );
  await waitFor("the failed run in the API", async () => (await statusOf(order)) === "FAILED");
  brokenCarriers.delete(order);

  const dry = await weft(["workflows", "reset", "--text", order, "--status", "failed"]);
  expect(dry.stdout.trimEnd().split("\n")).toEqual(["1 run(s) match", order]);
  expect(dry.stderr).toBe("weft: nothing sent: add --yes to reset these runs\n");

  const done = await weft([
    "workflows",
    "reset",
    "--text",
    order,
    "--status",
    "failed",
    "--yes",
    "--json",
  ]);
  expect(done.code).toBe(0);
  const result = JSON.parse(done.stdout) as {
    applied: { workflowId: string; newWorkflowId: string; error: string | null }[];
  };
  expect(result.applied).toEqual([expect.objectContaining({ workflowId: order, error: null })]);
  await expect(
    client.result(result.applied[0]!.newWorkflowId, { timeoutMs: 30_000 }),
  ).resolves.toEqual({ reservation: `${order}-r1`, charged: 7 });
  // Reserve and charge were reused: only the failed step ran again.
  expect(orderInvocations("reserve", order)).toBe(1);
  expect(orderInvocations("ship", order)).toBe(2);
}, 90_000);
