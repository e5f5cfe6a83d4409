/**
 * What `weft dev` prints, as a child process (no services: embedded, SQLite read models).
 * The human format (forced with WEFT_LOG_FORMAT=pretty, as a terminal would get it): the
 * banner, one line per run event, no JSON and no access log. Without a terminal: JSON lines,
 * as before, and the access log only when asked for. A fan-out of more than 10 steps at once
 * gives no MaxListenersExceededWarning, in `weft dev` and in the test kit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { tempDir } from "../embedded/helpers";
import { waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";

const ROOT = join(__dirname, "..", "..");
const MODULE = "test/fixtures/fan-out.ts";
const cleanups: (() => void)[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const cleanup of cleanups) cleanup();
});

interface Dev {
  child: ChildProcess;
  address: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `weft dev` on the fan-out fixture, with `env`; resolves once the banner names the API. */
async function startDev(env: Record<string, string>): Promise<Dev> {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "weft.js"), "dev", MODULE, "--dir", dir],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", DATABASE_URL: "", WEFT_LOG_LEVEL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const address = await waitFor(
    "weft dev to be ready",
    () => {
      if (child.exitCode !== null) throw new Error(`weft dev exited:\n${stdout}\n${stderr}`);
      return /GraphQL: (http:\/\/[^\s]+)\/graphql/.exec(stderr)?.[1];
    },
    60_000,
  );
  return {
    child,
    address,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

const RUN = `query ($id: String!) { workflow(id: $id) { status result } }`;

/** Starts a fan-out of `steps` naps through the API and waits until the read models show it done. */
async function fanOut(address: string, workflowId: string, steps: number): Promise<void> {
  const started = await httpGql(
    address,
    `mutation ($id: String!, $input: JSON) { startWorkflow(type: "fanOut", workflowId: $id, input: $input) { workflowId } }`,
    { id: workflowId, input: { steps } },
  );
  expect(started.errors).toBeUndefined();
  await waitFor(`${workflowId} to complete`, async () => {
    const res = await httpGql<{ workflow: { status: string } | null }>(address, RUN, {
      id: workflowId,
    });
    return res.data?.workflow?.status === "COMPLETED";
  });
}

it("the human format: the banner, one line per run event, no JSON, no access log, no listener warning", async () => {
  const dev = await startDev({ WEFT_LOG_FORMAT: "pretty" });
  try {
    // The banner suggests the input the workflow declares as its example, and its note.
    expect(dev.stderr()).toContain("Weft is running (decider + worker + projector + api)");
    expect(dev.stderr()).toContain(`ID=$(npx weft workflow start fanOut --input '{"steps":12}')`);
    expect(dev.stderr()).toContain("fanOut runs that many naps at once.");

    await fanOut(dev.address, "dev-pretty-1", 25);
    const lines = await waitFor("the run's last line", () => {
      const out = dev.stdout().split("\n");
      return out.some((l) => / dev-pretty-1 {2}completed in .+: \{"steps":25\}$/.test(l)) && out;
    });
    const ofRun = lines.filter((l) => l.includes(" dev-pretty-1 "));
    expect(ofRun[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} {2}dev-pretty-1 {2}started fanOut with \{"steps":25\}$/,
    );
    expect(ofRun.filter((l) => /step nap #\d+ completed: \{"together":25\}$/.test(l))).toHaveLength(
      25,
    );
    // WorkflowStarted, 25 × (scheduled, started, completed), WorkflowCompleted.
    expect(ofRun).toHaveLength(77);
    // Nothing else: no JSON record, no access log (the test itself made requests).
    expect(lines.filter((l) => l.startsWith("{"))).toEqual([]);
    expect(dev.stdout()).not.toMatch(/request completed|incoming request/);
    expect(dev.stderr()).not.toMatch(/MaxListenersExceededWarning/);
  } finally {
    await dev.stop();
  }
  expect(dev.stderr()).toContain("Stopping: running steps finish first.");
});

it("without a terminal: JSON lines as before, and the access log only when asked for", async () => {
  const quiet = await startDev({ WEFT_LOG_LEVEL: "info" });
  try {
    await fanOut(quiet.address, "dev-json-1", 12);
    const lines = quiet.stdout().trimEnd().split("\n");
    // Every line a pino record; the roles' own info lines are there, the access log is not.
    const records = lines.map((l) => JSON.parse(l) as { msg?: string; level?: number });
    expect(records.some((r) => r.msg === "embedded Weft ready")).toBe(true);
    expect(records.filter((r) => /request/.test(r.msg ?? ""))).toEqual([]);
    expect(quiet.stderr()).not.toMatch(/MaxListenersExceededWarning/);
  } finally {
    await quiet.stop();
  }

  const logged = await startDev({ WEFT_LOG_LEVEL: "info", WEFT_ACCESS_LOG: "1" });
  try {
    await fanOut(logged.address, "dev-json-2", 1);
    const records = logged
      .stdout()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string } });
    expect(records.some((r) => r.msg === "request completed")).toBe(true);
    expect(records.some((r) => r.msg === "incoming request" && r.req?.url === "/graphql")).toBe(
      true,
    );
  } finally {
    await logged.stop();
  }
});

it("a bad WEFT_LOG_FORMAT stops weft dev with one line and exit 2", async () => {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "weft.js"), "dev", MODULE, "--dir", dir],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", DATABASE_URL: "", WEFT_LOG_FORMAT: "fancy" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code).toBe(2);
  expect(stderr.trim()).toBe(
    'weft: INVALID_CONFIG: WEFT_LOG_FORMAT must be pretty or json, got "fancy"',
  );
});

it("the test kit runs more than 10 steps at once without a MaxListenersExceededWarning", async () => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "test", "fixtures", "fan-out-kit.ts"), "25"],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '{"steps":25}\n', stderr: "" });
});
