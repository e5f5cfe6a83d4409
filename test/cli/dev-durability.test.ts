/**
 * `weft dev` as a user runs it: a child process, every role embedded, state in a directory.
 * A run sleeps; the process is killed with SIGKILL mid-sleep and started again on the same
 * directory; the run completes and its timer fired exactly once, after its deadline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { tempDir } from "../embedded/helpers";
import { waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";

const ROOT = join(__dirname, "..", "..");
const { dir, cleanup } = tempDir();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  cleanup();
});

/** Starts `weft dev` on the fixtures; resolves with the API address once it says so. */
async function startDev(): Promise<{ child: ChildProcess; address: string; readyMs: number }> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "weft.js"), "dev", "test/fixtures/dev-module.ts", "--dir", dir],
    {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", WEFT_LOG_LEVEL: "warn", DATABASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const address = await waitFor(
    "weft dev to be ready",
    () => {
      if (child.exitCode !== null) throw new Error(`weft dev exited: ${output}`);
      return /GraphQL: (http:\/\/[^\s]+)\/graphql/.exec(output)?.[1];
    },
    30_000,
  );
  return { child, address, readyMs: Date.now() - started };
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

interface RunData {
  workflow: {
    status: string;
    events: { seq: number; type: string; at: string; body: { dueAt?: number } }[];
  } | null;
}

const RUN = `query ($id: String!) { workflow(id: $id) { status events { seq type at body } } }`;

it("a run sleeping when weft dev is killed -9 completes after a restart; its timer fires once", async () => {
  const first = await startDev();
  process.stdout.write(`weft dev: ready ${first.readyMs} ms after spawn (empty directory)\n`);
  const started = await httpGql<{ startWorkflow: { workflowId: string } }>(
    first.address,
    `mutation { startWorkflow(type: "sleepy", workflowId: "dev-sleeper", input: { ms: 4000 }) { workflowId } }`,
  );
  expect(started.errors).toBeUndefined();
  await waitFor("the run to sleep", async () => {
    const res = await httpGql<RunData>(first.address, RUN, { id: "dev-sleeper" });
    return res.data?.workflow?.events.some((e) => e.type === "TimerStarted");
  });
  await kill9(first.child);

  const second = await startDev();
  process.stdout.write(
    `weft dev: ready ${second.readyMs} ms after spawn (reopened after kill -9)\n`,
  );
  const run = await waitFor(
    "the run to complete after the restart",
    async () => {
      const res = await httpGql<RunData>(second.address, RUN, { id: "dev-sleeper" });
      return res.data?.workflow?.status === "COMPLETED" && res.data.workflow;
    },
    30_000,
  );
  const timerStarted = run.events.filter((e) => e.type === "TimerStarted");
  const timerFired = run.events.filter((e) => e.type === "TimerFired");
  expect(timerStarted).toHaveLength(1);
  expect(timerFired).toHaveLength(1);
  expect(Date.parse(timerFired[0]!.at)).toBeGreaterThanOrEqual(timerStarted[0]!.body.dueAt!);
  expect(run.events.map((e) => e.seq)).toEqual(run.events.map((_, i) => i + 1));
  await kill9(second.child);
});
