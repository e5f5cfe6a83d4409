/**
 * `weft start --processes 2` as an operator runs it: the supervisor is a child process of this
 * test and forks two children, each running every role on the real broker, Redis and
 * PostgreSQL. Both come up on one shared API port and register under their supervisor's pid
 * and slot; `kill -9` of one makes the supervisor fork it again (a new pid) and the runs that
 * were sleeping complete; SIGTERM to the supervisor drains both children, which exit 0, and
 * the supervisor exits 0. Children without the api role serve /metrics on a port each.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { get } from "node:http";
import { createServer, type AddressInfo, type Server } from "node:net";
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
  metricsAddress?: string | null;
}

/** A `weft start … --processes` run as a child of this test, and its log. */
interface SupervisorRun {
  readonly process: ChildProcess;
  output(): string;
  /** The supervisor's own log lines (the children's share its stdout). */
  log(): LogLine[];
  waitForLog(what: string, match: (line: LogLine) => boolean): Promise<LogLine>;
}

/** Every pid this test saw: killed in teardown if a failure left one running. */
const pids = new Set<number>();
const runs: SupervisorRun[] = [];

function startSupervisor(args: string[], env: Record<string, string>): SupervisorRun {
  const config = isolatedConfig();
  const child = spawn(process.execPath, [join(ROOT, "bin", "weft.js"), "start", ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: config.kafkaBrokers.join(","),
      REDIS_URL: config.redisUrl,
      WEFT_TOPIC_PREFIX: config.topicPrefix,
      WEFT_COMMAND_PARTITIONS: String(config.commandPartitions),
      WEFT_TASK_PARTITIONS: String(config.taskPartitions),
      // The supervisor's lifecycle lines are what this test waits on.
      WEFT_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  pids.add(child.pid!);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const log = () =>
    output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.component === "supervisor");
  const run: SupervisorRun = {
    process: child,
    output: () => output,
    log,
    waitForLog: (what, match) =>
      waitFor(
        what,
        () => {
          const found = log().find(match);
          if (!found && child.exitCode !== null) {
            throw new Error(`the supervisor exited (${child.exitCode}):\n${output}`);
          }
          return found;
        },
        60_000,
      ),
  };
  runs.push(run);
  return run;
}

afterAll(() => {
  for (const run of runs) for (const line of run.log()) if (line.childPid) pids.add(line.childPid);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
});

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

/** A port P such that P and P + 1 were both free a moment ago. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const first = await listenOn(0);
    const port = (first.address() as AddressInfo).port;
    const second = await listenOn(port + 1).catch(() => undefined);
    await new Promise((resolve) => first.close(resolve));
    if (second) {
      await new Promise((resolve) => second.close(resolve));
      return port;
    }
  }
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
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
async function expectSupervisorCounts(
  address: string,
  expected: { children: number; restarts: number },
) {
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

describe("every role in two children", () => {
  let db: TestSchema;
  let run: SupervisorRun;
  let address: string;
  const childPids: number[] = [];

  beforeAll(async () => {
    db = await createTestSchema();
    run = startSupervisor(
      [
        "test/fixtures/dev-module.ts",
        "--roles",
        "decider,worker,projector,api",
        "--processes",
        "2",
      ],
      { DATABASE_URL: db.databaseUrl, WEFT_REGISTRATION_INTERVAL_MS: "1000", PORT: "0" },
    );
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("forks two children that share one API port and register under the supervisor", async () => {
    for (const index of [0, 1]) {
      const ready = await run.waitForLog(`child ${index} to be ready`, (l) => {
        return l.msg === "child ready" && l.child === index;
      });
      childPids[index] = ready.childPid!;
      expect(alive(ready.childPid!)).toBe(true);
    }
    const addresses = run
      .log()
      .filter((l) => l.msg === "child ready")
      .map((l) => l.apiAddress);
    // PORT=0: node:cluster gives every child the port the first one got.
    expect(addresses[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(addresses[1]).toBe(addresses[0]);
    address = addresses[0]!;
    expect(childPids[0]).not.toBe(childPids[1]);

    await expectSupervisorCounts(address, { children: 2, restarts: 0 });

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
        expect.stringMatching(`-${run.process.pid}\\.${index}-${pid}`),
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
    const exit = await run.waitForLog("the supervisor to see the kill", (l) => {
      return l.msg === "child exited" && l.childPid === victim;
    });
    expect(exit).toMatchObject({ child: 0, code: null, signal: "SIGKILL" });
    const again = await run.waitForLog("child 0 to be ready again", (l) => {
      return l.msg === "child ready" && l.child === 0 && l.childPid !== victim;
    });
    expect(alive(again.childPid!)).toBe(true);
    expect(alive(victim)).toBe(false);
    childPids[0] = again.childPid!;

    for (const id of ids) {
      const result = await waitFor(
        `${id} to complete`,
        async () => {
          const res = await httpGql<RunData>(address, RUN, { id });
          return res.data?.workflow?.status === "COMPLETED" && res.data.workflow;
        },
        60_000,
      );
      expect(result.events.map((e) => e.seq)).toEqual(result.events.map((_, i) => i + 1));
      expect(result.events.filter((e) => e.type === "TimerFired")).toHaveLength(1);
      expect(result.events.filter((e) => e.type === "WorkflowCompleted")).toHaveLength(1);
    }
    await expectSupervisorCounts(address, { children: 2, restarts: 1 });
  });

  it("SIGTERM to the supervisor drains both children; all exit 0", async () => {
    const exited = new Promise<number | null>((resolve) => run.process.once("exit", resolve));
    run.process.kill("SIGTERM");
    expect(await exited).toBe(0);
    for (const [index, pid] of childPids.entries()) {
      expect(run.log()).toContainEqual(
        expect.objectContaining({ msg: "child exited", child: index, childPid: pid, code: 0 }),
      );
      expect(alive(pid)).toBe(false);
    }
    expect(run.log()).toContainEqual(
      expect.objectContaining({ msg: "every child is gone", exitCode: 0 }),
    );
  });
});

it("gives each child without the api role a metrics port of its own: WEFT_METRICS_PORT + slot", async () => {
  const port = await freePortPair();
  const run = startSupervisor(
    ["test/fixtures/dev-module.ts", "--roles", "worker", "--processes", "2"],
    { WEFT_METRICS_PORT: String(port) },
  );
  for (const index of [0, 1]) {
    const ready = await run.waitForLog(`child ${index} to be ready`, (l) => {
      return l.msg === "child ready" && l.child === index;
    });
    expect(ready.metricsAddress).toBe(`http://127.0.0.1:${port + index}`);
    const text = await getText(`${ready.metricsAddress}/metrics`);
    expect(metric(text, "weft_supervisor_child_index")).toBe(index);
    expect(text).toContain("weft_step_attempts_total");
  }
  const exited = new Promise<number | null>((resolve) => run.process.once("exit", resolve));
  run.process.kill("SIGTERM");
  expect(await exited).toBe(0);
});
