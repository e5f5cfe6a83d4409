/**
 * `weft start --processes 2` as an operator runs it: the supervisor is a child process of this
 * test and forks two children, each running every role on the real broker, Redis and
 * PostgreSQL. Both come up on one shared API port and register under their supervisor's pid
 * and slot; `kill -9` of one makes the supervisor fork it again (a new pid) and the runs that
 * were sleeping complete; SIGTERM to the supervisor drains both children, which exit 0, and
 * the supervisor exits 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { get } from "node:http";
import { join } from "node:path";
import { isolatedConfig, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ROOT = join(__dirname, "..", "..");
const RUNS = 6;

interface LogLine {
  msg?: string;
  component?: string;
  child?: number;
  childPid?: number;
  code?: number | null;
  signal?: string | null;
  apiAddress?: string | null;
}

let db: TestSchema;
let supervisor: ChildProcess;
let output = "";
/** Every pid this test saw: killed in teardown if a failure left one running. */
const pids = new Set<number>();
let address: string;
const childPids: number[] = [];

/** The supervisor's own log lines (the children's share its stdout). */
function supervisorLog(): LogLine[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.component === "supervisor");
}

function waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000) {
  return waitFor(
    what,
    () => {
      const found = supervisorLog().find(match);
      if (!found && supervisor.exitCode !== null) {
        throw new Error(`the supervisor exited (${supervisor.exitCode}):\n${output}`);
      }
      return found;
    },
    timeoutMs,
  );
}

/** A GET on a new connection, so node:cluster hands each one to a child in turn. */
function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

function metric(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/**
 * Scrapes /metrics until every child has answered with `expected` counts: each child serves
 * its supervisor's counts, whichever one takes the connection.
 */
async function expectSupervisorCounts(expected: { children: number; restarts: number }) {
  const answered = new Set<number>();
  await waitFor(`both children to report ${JSON.stringify(expected)} at /metrics`, async () => {
    const text = await getText(`${address}/metrics`);
    const index = metric(text, "weft_supervisor_child_index");
    if (
      index !== undefined &&
      metric(text, "weft_supervisor_children") === expected.children &&
      metric(text, "weft_supervisor_restarts_total") === expected.restarts
    ) {
      answered.add(index);
    }
    return answered.size === 2;
  });
  expect([...answered].sort()).toEqual([0, 1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const RUN = `query ($id: String!) { workflow(id: $id) { status events { seq type } } }`;
interface RunData {
  workflow: { status: string; events: { seq: number; type: string }[] } | null;
}

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  supervisor = spawn(
    process.execPath,
    [
      join(ROOT, "bin", "weft.js"),
      "start",
      "test/fixtures/dev-module.ts",
      "--roles",
      "decider,worker,projector,api",
      "--processes",
      "2",
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: config.kafkaBrokers.join(","),
        REDIS_URL: config.redisUrl,
        DATABASE_URL: db.databaseUrl,
        WEFT_TOPIC_PREFIX: config.topicPrefix,
        WEFT_COMMAND_PARTITIONS: String(config.commandPartitions),
        WEFT_TASK_PARTITIONS: String(config.taskPartitions),
        WEFT_REGISTRATION_INTERVAL_MS: "1000",
        // The supervisor's lifecycle lines are what this test waits on.
        WEFT_LOG_LEVEL: "info",
        PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  pids.add(supervisor.pid!);
  supervisor.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  supervisor.stderr!.on("data", (d: Buffer) => (output += d.toString()));
});

afterAll(async () => {
  for (const line of supervisorLog()) if (line.childPid) pids.add(line.childPid);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
  await db?.drop();
});

it("forks two children that share one API port and register under the supervisor", async () => {
  for (const index of [0, 1]) {
    const ready = await waitForLog(`child ${index} to be ready`, (l) => {
      return l.msg === "child ready" && l.child === index;
    });
    childPids[index] = ready.childPid!;
    expect(alive(ready.childPid!)).toBe(true);
  }
  const addresses = supervisorLog()
    .filter((l) => l.msg === "child ready")
    .map((l) => l.apiAddress);
  // PORT=0: node:cluster gives every child the port the first one got.
  expect(addresses[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(addresses[1]).toBe(addresses[0]);
  address = addresses[0]!;
  expect(childPids[0]).not.toBe(childPids[1]);

  await expectSupervisorCounts({ children: 2, restarts: 0 });

  const workers = await waitFor("both children in the registered processes", async () => {
    const res = await httpGql<{ workers: { id: string; pid: number; status: string }[] }>(
      address,
      `{ workers { id pid status } }`,
    );
    const list = res.data?.workers ?? [];
    return list.filter((w) => w.status === "ALIVE").length === 2 && list;
  });
  const ids = workers.map((w) => [w.pid, w.id]).sort((a, b) => Number(a[0]) - Number(b[0]));
  for (const index of [0, 1]) {
    const pid = childPids[index]!;
    expect(ids).toContainEqual([
      pid,
      expect.stringMatching(`-${supervisor.pid}\\.${index}-${pid}`),
    ]);
  }
});

it("forks a child killed with -9 again, and the runs it held complete", async () => {
  const ids = Array.from({ length: RUNS }, (_, i) => `supervised-${i}`);
  for (const id of ids) {
    const res = await httpGql(
      address,
      `mutation ($id: String!) { startWorkflow(type: "sleepy", workflowId: $id, input: { ms: 3000, stepMs: 200 }) { workflowId } }`,
      { id },
    );
    expect(res.errors).toBeUndefined();
  }
  // Every run sleeps (its timer is held by a decider in one of the children) before the kill.
  for (const id of ids) {
    await waitFor(`${id} to sleep`, async () => {
      const res = await httpGql<RunData>(address, RUN, { id });
      return res.data?.workflow?.events.some((e) => e.type === "TimerStarted");
    });
  }

  const victim = childPids[0]!;
  process.kill(victim, "SIGKILL");
  const exit = await waitForLog("the supervisor to see the kill", (l) => {
    return l.msg === "child exited" && l.childPid === victim;
  });
  expect(exit).toMatchObject({ child: 0, code: null, signal: "SIGKILL" });
  const again = await waitForLog("child 0 to be ready again", (l) => {
    return l.msg === "child ready" && l.child === 0 && l.childPid !== victim;
  });
  expect(alive(again.childPid!)).toBe(true);
  expect(alive(victim)).toBe(false);
  childPids[0] = again.childPid!;

  for (const id of ids) {
    const run = await waitFor(
      `${id} to complete`,
      async () => {
        const res = await httpGql<RunData>(address, RUN, { id });
        return res.data?.workflow?.status === "COMPLETED" && res.data.workflow;
      },
      60_000,
    );
    expect(run.events.map((e) => e.seq)).toEqual(run.events.map((_, i) => i + 1));
    expect(run.events.filter((e) => e.type === "TimerFired")).toHaveLength(1);
    expect(run.events.filter((e) => e.type === "WorkflowCompleted")).toHaveLength(1);
  }
  await expectSupervisorCounts({ children: 2, restarts: 1 });
});

it("SIGTERM to the supervisor drains both children; all exit 0", async () => {
  const exited = new Promise<number | null>((resolve) => supervisor.once("exit", resolve));
  supervisor.kill("SIGTERM");
  expect(await exited).toBe(0);
  for (const [index, pid] of childPids.entries()) {
    expect(supervisorLog()).toContainEqual(
      expect.objectContaining({ msg: "child exited", child: index, childPid: pid, code: 0 }),
    );
    expect(alive(pid)).toBe(false);
  }
  expect(supervisorLog().at(-1)).toMatchObject({ msg: "every child is gone" });
});
