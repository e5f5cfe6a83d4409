/**
 * The `weft workflow` commands end to end: a decider, a worker, a projector and the API in
 * one runtime on the real Kafka, PostgreSQL and Redis; the CLI runs as a child process from
 * its sources and reaches the API only through WEFT_API_URL (HTTP and WebSocket).
 */
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import {
  approval,
  closeFixtures,
  sleepy,
  steps,
  tally,
  terminalFailure,
  threeSteps,
} from "../fixtures/workflows";
import { approvalCounter } from "../fixtures/run-state";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ROOT = join(__dirname, "..", "..");
const ADMIN_TOKEN = "cli-admin-token-0123456789";
const READ_TOKEN = "cli-read-token-0123456789";

let db: TestSchema;
let config: WeftConfig;
let engine: Runtime;
let securedApi: Runtime;
let client: WeftClient;

beforeAll(async () => {
  db = await createTestSchema();
  config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const logger = testLogger(config);
  engine = await startRuntime({
    config,
    logger,
    roles: ["decider", "worker", "projector", "api"],
    workflows: [threeSteps, approval, sleepy, terminalFailure, tally, approvalCounter],
    steps,
    api: { port: 0, tokens: { admin: [], read: [] } },
  });
  await engine.decider?.ready();
  securedApi = await startRuntime({
    config,
    logger,
    roles: ["api"],
    api: { port: 0, tokens: { admin: [ADMIN_TOKEN], read: [READ_TOKEN] } },
  });
  client = await WeftClient.connect({ config, logger });
  // The API starts only types a decider registered: wait until the projector has them.
  await waitFor("the decider's registration", async () => {
    const res = await weft(["workflow", "start", "threeSteps", "--id", "cli-registered"]);
    return res.code === 0;
  });
});

afterAll(async () => {
  await client?.close();
  await securedApi?.stop();
  await engine?.stop();
  await closeFixtures();
  await db?.drop();
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `weft <args>` from the sources, pointed at the test's API unless `env` says otherwise. */
function weft(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/weft.ts", ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      WEFT_API_URL: engine.api!.address,
      ...env,
    },
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

/** An error is exactly one line on stderr. */
function oneErrorLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^weft: /);
  return lines[0]!;
}

interface RunJson {
  status: string;
  waitingOn: { kind: string }[];
}

/** Waits until the read models have the run and it satisfies `check`. */
async function readModelShows(workflowId: string, check: (run: RunJson) => boolean): Promise<void> {
  await waitFor(`${workflowId} in the read models`, async () => {
    const res = await weft(["workflow", "describe", workflowId, "--json"]);
    return res.code === 0 && check(JSON.parse(res.stdout) as RunJson);
  });
}

it("start --wait prints the result; list, describe and history show the run", async () => {
  const started = await weft([
    "workflow",
    "start",
    "threeSteps",
    "--input",
    '{"n":1}',
    "--id",
    "cli-three-1",
    "--wait",
    "--timeout",
    "30000",
  ]);
  expect(started.stderr).toContain("started cli-three-1");
  expect(started.code).toBe(0);
  expect(started.stdout).toMatch(/^cli-three-1 completed in .+: \{"n":4\}\n$/);

  const list = await weft(["workflow", "list", "--type", "threeSteps"]);
  expect(list.code).toBe(0);
  const [header, ...rows] = list.stdout.trimEnd().split("\n");
  expect(header).toMatch(/^ID\s+TYPE\s+STATUS\s+STARTED\s+CLOSED$/);
  expect(rows.some((r) => /^cli-three-1\s+threeSteps\s+COMPLETED\s/.test(r))).toBe(true);

  const listJson = await weft(["workflow", "list", "--text", "cli-three", "--json"]);
  expect(JSON.parse(listJson.stdout)).toMatchObject({
    nodes: [{ id: "cli-three-1", type: "threeSteps", status: "COMPLETED" }],
    pageInfo: { hasNextPage: false },
  });

  const describe = await weft(["workflow", "describe", "cli-three-1"]);
  expect(describe.code).toBe(0);
  expect(describe.stdout).toMatch(/^status\s+COMPLETED$/m);
  expect(describe.stdout).toMatch(/^result\s+\{"n":4\}$/m);
  expect(describe.stdout).toMatch(/^\s*SEQ\s+ATTEMPT\s+NAME\s+QUEUE\s+STATUS\s+WORKER\s+DURATION/m);
  expect(describe.stdout.match(/^\s*\d+\s+1\s+echo\s+\S+\s+completed\s/gm)).toHaveLength(3);

  const history = await weft(["workflow", "history", "cli-three-1", "--json"]);
  expect(history.code).toBe(0);
  const expected = (await client.getHistory("cli-three-1")).map((e) => ({
    seq: e.seq,
    type: e.body.type,
    at: new Date(e.at).toISOString(),
    body: e.body,
  }));
  expect(JSON.parse(history.stdout)).toEqual(expected);

  const table = await weft(["workflow", "history", "cli-three-1"]);
  expect(table.stdout).toMatch(/^SEQ\s+TIME\s+TYPE\s+SUMMARY$/m);
  // Times in ISO-8601 (UTC), in the TIME column and inside the summaries alike.
  expect(table.stdout).toMatch(
    /^\s*1\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s+WorkflowStarted\s/m,
  );
  expect(table.stdout).toMatch(/StepStarted\s+\{.*"startedAt":"\d{4}-\d\d-\d\dT[^"]+Z"/);
  expect(table.stdout).toMatch(/WorkflowCompleted\s+\{"result":\{"n":4\}\}/);
});

it("list pages with --first and prints the cursor of the next page", async () => {
  for (const n of [1, 2, 3]) {
    const res = await weft(["workflow", "start", "threeSteps", "--id", `cli-page-${n}`]);
    // The bare ID on stdout, nothing else: `ID=$(weft workflow start …)` takes it.
    expect(res).toMatchObject({ code: 0, stdout: `cli-page-${n}\n`, stderr: "" });
  }
  const generated = await weft(["workflow", "start", "threeSteps", "--input", '{"n":0}']);
  expect(generated).toMatchObject({ code: 0, stderr: "" });
  expect(generated.stdout).toMatch(/^threeSteps-[0-9a-f-]{36}\n$/);
  const ids = new Set<string>();
  await waitFor("three runs listed", async () => {
    const res = await weft(["workflow", "list", "--text", "cli-page-", "--json"]);
    return (JSON.parse(res.stdout) as { nodes: unknown[] }).nodes.length === 3;
  });
  const first = await weft(["workflow", "list", "--text", "cli-page-", "--first", "2"]);
  const cursor = /^next page: --after (\S+)$/m.exec(first.stdout)?.[1];
  expect(cursor).toBeDefined();
  for (const m of first.stdout.matchAll(/^(cli-page-\d)\s/gm)) ids.add(m[1]!);
  const second = await weft(["workflow", "list", "--text", "cli-page-", "--after", cursor!]);
  for (const m of second.stdout.matchAll(/^(cli-page-\d)\s/gm)) ids.add(m[1]!);
  expect(second.stdout).not.toMatch(/next page/);
  expect([...ids].sort()).toEqual(["cli-page-1", "cli-page-2", "cli-page-3"]);
});

it("a signal lets an approval run complete while `wait` waits for it", async () => {
  const started = await weft([
    "workflow",
    "start",
    "approval",
    "--input",
    '{"timeoutMs":60000}',
    "--json",
  ]);
  const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
  await readModelShows(workflowId, (run) => run.waitingOn.some((w) => w.kind === "signal"));
  const described = await weft(["workflow", "describe", workflowId]);
  expect(described.stdout).toMatch(/^waiting on\s+signal "approve"/m);

  const waiting = weft(["workflow", "wait", workflowId, "--timeout", "30000", "--json"]);
  const signalled = await weft([
    "workflow",
    "signal",
    workflowId,
    "approve",
    '{"approvedBy":"ada"}',
  ]);
  expect(signalled.code).toBe(0);
  expect(signalled.stdout).toMatch(
    new RegExp(`^signal approve sent to ${workflowId} \\(request ID [0-9a-f-]{36}\\)\n$`),
  );
  const result = await waiting;
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual({
    workflowId,
    status: "COMPLETED",
    result: { approved: true, by: "ada" },
  });
});

it("signal-with-start starts the run once and signals it; describe shows its state", async () => {
  const workflowId = `cli-approvals-${Date.now().toString(36)}`;
  const send = (by: string) =>
    weft([
      "workflow",
      "signal-with-start",
      "approvalCounter",
      workflowId,
      "approve",
      JSON.stringify({ by }),
      "--input",
      '{"needed":2}',
    ]);
  const first = await send("ada");
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(
    new RegExp(
      `^signal approve sent to ${workflowId}, started if no run was open \\(request ID [0-9a-f-]{36}\\)\n$`,
    ),
  );
  await readModelShows(workflowId, (run) => run.status === "RUNNING");
  expect((await send("bob")).code).toBe(0);
  const result = await weft(["workflow", "wait", workflowId, "--timeout", "30000", "--json"]);
  expect(JSON.parse(result.stdout)).toMatchObject({
    status: "COMPLETED",
    result: { approved: true, approvals: 2, by: ["ada", "bob"] },
  });
  const history = await client.getHistory(workflowId);
  expect(history.filter((e) => e.body.type === "WorkflowStarted")).toHaveLength(1);
  await readModelShows(workflowId, (run) => run.status === "COMPLETED");
  const described = await weft(["workflow", "describe", workflowId]);
  // jsonb keeps keys in its own order: the line holds the state, whatever the order.
  const stateLine = described.stdout.split("\n").find((line) => line.startsWith("state "));
  expect(JSON.parse(stateLine!.slice("state".length).trim())).toEqual({
    approvals: 2,
    needed: 2,
    by: ["ada", "bob"],
    phase: "approved",
  });
});

it("cancel cancels; waiting on it then fails with the reason on one line", async () => {
  const workflowId = "cli-cancel-1";
  await weft(["workflow", "start", "sleepy", "--id", workflowId, "--input", '{"ms":60000}']);
  await readModelShows(workflowId, (run) => run.status === "RUNNING");

  const timedOut = await weft(["workflow", "wait", workflowId, "--timeout", "300"]);
  expect(timedOut.code).toBe(2);
  expect(oneErrorLine(timedOut)).toMatch(
    /^weft: WAIT_TIMEOUT: workflow cli-cancel-1 is still RUNNING \(waiting on timer until \d{4}-\d\d-\d\dT\S+Z\) after 300 ms \(--timeout\); the run itself goes on$/,
  );

  const cancelled = await weft([
    "workflow",
    "cancel",
    workflowId,
    "--reason",
    "not needed",
    "--request-id",
    "cli-cancel-request-1",
  ]);
  expect(cancelled).toMatchObject({
    code: 0,
    stdout: `cancel sent to ${workflowId} (request ID cli-cancel-request-1)\n`,
  });
  const waited = await weft(["workflow", "wait", workflowId, "--timeout", "30000"]);
  expect(waited.code).toBe(2);
  expect(waited.stdout).toBe("");
  expect(lastLine(waited.stderr)).toBe(
    `weft: WORKFLOW_CANCELLED: workflow ${workflowId} was cancelled: not needed`,
  );
  const history = await client.getHistory(workflowId);
  expect(history.at(-1)!.body).toEqual({
    type: "WorkflowCancelled",
    reason: "not needed",
    requestId: "cli-cancel-request-1",
    terminated: false,
  });
});

it("a signal whose answer was lost is sent again with the same request ID and recorded once", async () => {
  const { workflowId } = await client.start(tally);
  // Forwards every request to the API; the first one's answer is lost (the socket is cut
  // after the API accepted the signal), as a proxy or a network would lose it.
  const requests: { requestId?: string }[] = [];
  const lossy = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      void (async () => {
        requests.push((JSON.parse(body) as { variables: { requestId?: string } }).variables);
        const answer = await fetch(`${engine.api!.address}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const text = await answer.text();
        if (requests.length === 1) req.socket.destroy();
        else res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
      })();
    });
  });
  await new Promise<void>((resolve) => lossy.listen(0, "127.0.0.1", resolve));
  const { port } = lossy.address() as AddressInfo;
  try {
    const sent = await weft(["workflow", "signal", workflowId, "add", '{"n":5}', "--json"], {
      WEFT_API_URL: `http://127.0.0.1:${port}`,
    });
    expect(sent.code).toBe(0);
    const accepted = JSON.parse(sent.stdout) as { requestId: string };
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.requestId)).toEqual([accepted.requestId, accepted.requestId]);
  } finally {
    await new Promise((resolve) => lossy.close(resolve));
  }
  const done = await weft(["workflow", "signal", workflowId, "add", '{"done":true}']);
  expect(done.code).toBe(0);
  expect(await client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ seen: [5] });
  const received = (await client.getHistory(workflowId)).filter(
    (e) => e.body.type === "SignalReceived",
  );
  expect(received).toHaveLength(2);
});

it("--id-reuse starts a new run under a closed run's ID, and --wait waits for that run", async () => {
  const start = (...args: string[]) =>
    weft(["workflow", "start", "threeSteps", "--id", "cli-reuse-1", "--wait", "--json", ...args]);
  const first = await start("--input", '{"n":1}');
  expect(JSON.parse(first.stdout)).toMatchObject({ status: "COMPLETED", result: { n: 4 } });
  // The default: the closed run's duplicate, so its result again.
  const duplicate = await start("--input", '{"n":50}');
  expect(JSON.parse(duplicate.stdout)).toMatchObject({ result: { n: 4 } });
  const reused = await start("--input", '{"n":20}', "--id-reuse", "allow-after-close");
  expect(reused.code).toBe(0);
  expect(JSON.parse(reused.stdout)).toMatchObject({ status: "COMPLETED", result: { n: 23 } });
  const bad = await start("--id-reuse", "sometimes");
  expect(bad.code).not.toBe(0);
  expect(lastLine(bad.stderr)).toMatch(/^weft: INVALID_INPUT: --id-reuse sometimes is none of/);
});

it("--execution-timeout gives the run its limit (start and signal-with-start); a bad duration is INVALID_INPUT", async () => {
  const res = await weft([
    "workflow",
    "start",
    "approval",
    "--id",
    "cli-execution-timeout",
    "--input",
    '{"timeoutMs":600000}',
    "--execution-timeout",
    "1s",
    "--wait",
    "--json",
  ]);
  expect(res.code).toBe(2);
  expect(JSON.parse(res.stdout)).toMatchObject({ status: "FAILED" });
  expect(lastLine(res.stderr)).toMatch(
    /^weft: WORKFLOW_FAILED: workflow \S+ failed: workflow \S+ timed out: it was still open when its execution timeout \(executionTimeoutMs\) of 1 s passed at /,
  );
  expect((await client.getHistory("cli-execution-timeout"))[0]!.body).toMatchObject({
    executionTimeoutMs: 1000,
  });

  const sws = await weft([
    "workflow",
    "signal-with-start",
    "tally",
    "cli-sws-timeout",
    "add",
    '{"n":1}',
    "--execution-timeout",
    "1h30m",
  ]);
  expect(sws.code).toBe(0);
  const started = await waitFor(
    "the signalled run's start",
    async () => (await client.getHistory("cli-sws-timeout"))[0],
  );
  expect(started.body).toMatchObject({ type: "WorkflowStarted", executionTimeoutMs: 5_400_000 });

  for (const bad of ["soon", "0", "-5s", "1.5ms"]) {
    const refused = await weft(["workflow", "start", "threeSteps", "--execution-timeout", bad]);
    expect([bad, refused.code]).toEqual([bad, 2]);
    expect(lastLine(refused.stderr)).toMatch(
      /^weft: INVALID_INPUT: --execution-timeout must be a duration such as 90s, 30m, 6h, 2d or 1h30m/,
    );
  }
});

it("a failed run exits non-zero with its error on one line", async () => {
  const res = await weft(["workflow", "start", "terminalFailure", "--wait", "--json"]);
  expect(res.code).toBe(2);
  expect(JSON.parse(res.stdout)).toMatchObject({ status: "FAILED" });
  expect(lastLine(res.stderr)).toMatch(
    /^weft: WORKFLOW_FAILED: workflow \S+ failed: .*the card was declined/,
  );
});

it("unknown workflows, invalid IDs and invalid input give one line and a non-zero exit", async () => {
  const unknown = await weft(["workflow", "describe", "cli-no-such-run"]);
  expect(unknown.code).toBe(1);
  expect(oneErrorLine(unknown)).toContain('no workflow "cli-no-such-run"');
  expect((await weft(["workflow", "history", "cli-no-such-run"])).code).toBe(1);

  const badId = await weft(["workflow", "describe", "not a valid id!"]);
  expect(badId.code).toBe(2);
  expect(oneErrorLine(badId)).toMatch(/^weft: INVALID_WORKFLOW_ID: /);

  const badStartId = await weft(["workflow", "start", "threeSteps", "--id", "bad id"]);
  expect(badStartId.code).toBe(2);
  expect(oneErrorLine(badStartId)).toMatch(/^weft: INVALID_WORKFLOW_ID: /);

  const unknownType = await weft(["workflow", "start", "noSuchWorkflow", "--wait"]);
  expect(unknownType.code).toBe(2);
  expect(oneErrorLine(unknownType)).toMatch(/^weft: UNKNOWN_WORKFLOW_TYPE: .*noSuchWorkflow/);

  const badJson = await weft(["workflow", "start", "threeSteps", "--input", "{n:1"]);
  expect(badJson.code).toBe(2);
  expect(oneErrorLine(badJson)).toBe("weft: INVALID_INPUT: --input is not valid JSON: {n:1");

  const badStatus = await weft(["workflow", "list", "--status", "sleeping"]);
  expect(badStatus.code).toBe(2);
  expect(oneErrorLine(badStatus)).toMatch(/^weft: BAD_USER_INPUT: .*SLEEPING/);

  const badFirst = await weft(["workflow", "list", "--first", "0"]);
  expect(badFirst.code).toBe(2);
  expect(oneErrorLine(badFirst)).toMatch(/^weft: INVALID_INPUT: --first must be/);
});

it("an unreachable API gives one line naming the URL and how to start the API", async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const res = await weft(["workflow", "list"], { WEFT_API_URL: url });
  expect(res.code).toBe(1);
  const line = oneErrorLine(res);
  expect(line).toContain(`cannot reach the Weft API at ${url} (ECONNREFUSED)`);
  expect(line).toContain("weft start --roles api");
  expect(line).toContain("npm start");

  const waited = await weft(["workflow", "wait", "cli-x", "--api", url]);
  expect(waited.code).toBe(1);
  expect(lastLine(waited.stderr)).toContain(`cannot reach the Weft API at ${url}`);
});

it("tokens: WEFT_API_TOKEN or --token is sent as a bearer token", async () => {
  const url = securedApi.api!.address;
  const none = await weft(["workflow", "list"], { WEFT_API_URL: url });
  expect(none.code).toBe(2);
  expect(oneErrorLine(none)).toMatch(/^weft: UNAUTHENTICATED: /);

  const read = await weft(["workflow", "list", "--json"], {
    WEFT_API_URL: url,
    WEFT_API_TOKEN: READ_TOKEN,
  });
  expect(read.code).toBe(0);
  const forbidden = await weft(["workflow", "start", "threeSteps", "--token", READ_TOKEN], {
    WEFT_API_URL: url,
  });
  expect(forbidden.code).toBe(2);
  expect(oneErrorLine(forbidden)).toMatch(/^weft: FORBIDDEN: /);

  const wait = await weft(["workflow", "wait", "cli-three-1", "--api", url], {
    WEFT_API_TOKEN: ADMIN_TOKEN,
  });
  expect(wait.code).toBe(0);
  expect(wait.stdout).toMatch(/^cli-three-1 completed/);
});

it("--help works on every command", async () => {
  const commands = [
    [],
    ["start"],
    ["workflow"],
    ...["start", "signal", "cancel", "describe", "list", "history", "wait"].map((c) => [
      "workflow",
      c,
    ]),
    ["migrate"],
    ["replay"],
    ["replay", "projections"],
  ];
  for (const command of commands) {
    const res = await weft([...command, "--help"]);
    expect({ command, code: res.code }).toEqual({ command, code: 0 });
    expect(res.stdout).toContain(`Usage: weft${command.length ? ` ${command.join(" ")}` : ""}`);
  }
});

function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
