/**
 * The supervisor's own decisions, with real children forked by node:cluster from this process
 * (test/fixtures/supervised-child.ts, which needs no broker): a child failing on its
 * configuration stops everything instead of crash-looping; children that ignore SIGTERM are
 * killed at the drain deadline; a crash-looping child is forked again after doubling delays.
 */
import { join } from "node:path";
import pino from "pino";
import { Supervisor, type SupervisorOptions } from "../../cli/supervisor/supervisor";
import { waitFor } from "../support/env";

interface LogLine {
  time: number;
  msg: string;
  child?: number;
  childPid?: number;
  code?: number | null;
  signal?: string | null;
  restartInMs?: number;
}

const FIXTURE = join(__dirname, "..", "fixtures", "supervised-child.ts");
const supervisors: Supervisor[] = [];

afterAll(() => {
  // A failed test may leave children running: end them by pid.
  for (const s of supervisors) for (const pid of s.pids) if (pid) process.kill(pid, "SIGKILL");
});

/** A supervisor of fixture children; `behaviour(index)` picks what each slot does. */
function supervise(
  behaviour: (index: number) => string,
  options: Partial<SupervisorOptions> = {},
): { supervisor: Supervisor; log: LogLine[] } {
  const log: LogLine[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => void log.push(JSON.parse(line) as LogLine) },
  );
  const supervisor = new Supervisor({
    processes: 1,
    logger,
    drainTimeoutMs: 30_000,
    child: { exec: FIXTURE, args: [], execArgv: ["--import", "tsx"] },
    childEnv: (index) => ({ WEFT_TEST_CHILD: behaviour(index) }),
    ...options,
  });
  supervisors.push(supervisor);
  supervisor.start();
  return { supervisor, log };
}

const lines = (log: LogLine[], msg: string) => log.filter((l) => l.msg === msg);

it("a child failing on its configuration before ready stops every child; exit 2, no restart", async () => {
  const { supervisor, log } = supervise((i) => (i === 1 ? "config-error" : "drain"), {
    processes: 2,
  });
  expect(await supervisor.exited).toBe(2);
  expect(lines(log, "child started")).toHaveLength(2);
  expect(log.filter((l) => l.msg.includes("failed on its configuration"))).toEqual([
    expect.objectContaining({ child: 1, code: 2 }),
  ]);
  expect(supervisor.live).toBe(0);
});

it("children still running at the drain deadline are killed; exit 1", async () => {
  const { supervisor, log } = supervise(() => "ignore-term", { drainTimeoutMs: 300 });
  await waitFor("the child to be ready", () => lines(log, "child ready").length === 1);
  const pid = supervisor.pids[0]!;
  supervisor.stop("SIGTERM");
  expect(await supervisor.exited).toBe(1);
  expect(lines(log, "children still running at the drain deadline: killing them")).toHaveLength(1);
  expect(lines(log, "child exited")).toEqual([
    expect.objectContaining({ child: 0, childPid: pid, code: null, signal: "SIGKILL" }),
  ]);
});

it("a crash-looping child is forked again after doubling delays, up to the cap", async () => {
  const { supervisor, log } = supervise(() => "crash", {
    backoff: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
  });
  // Stopped between a crash and the next fork, so no child is caught mid-start.
  await waitFor(
    "five crashes, then a wait for the next fork",
    () => lines(log, "child exited").length >= 5 && supervisor.live === 0,
    30_000,
    10,
  );
  supervisor.stop("SIGTERM");
  expect(await supervisor.exited).toBe(0);
  const exits = lines(log, "child exited").slice(0, 5);
  expect(exits.map((e) => e.code)).toEqual([1, 1, 1, 1, 1]);
  expect(exits.map((e) => e.restartInMs)).toEqual([50, 100, 200, 200, 200]);
  // Each fork came no sooner than its delay after the exit before it (less 1 ms: the log's
  // clock has millisecond steps).
  const starts = lines(log, "child started");
  for (const [i, exit] of exits.slice(0, 4).entries()) {
    expect(starts[i + 1]!.time - exit.time).toBeGreaterThanOrEqual(exit.restartInMs! - 1);
  }
  // Every pid is new.
  expect(new Set(starts.map((s) => s.childPid)).size).toBe(starts.length);
});
