/**
 * `weft replay workflows` and `weft history export` end to end: runs of a small module are
 * recorded on the real Kafka (and on an embedded log), then the CLI, run as a child process
 * from its sources, replays them through the same module (they pass) and through a changed one
 * (each run is named with its event and the source line of the changed call).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";
import { defineStep, defineWorkflow } from "../../sdk";
import { startEmbedded } from "../../sdk/embedded";
import { checkReplay, readHistoryFile } from "../../sdk/testing";
import { charge, orderFlow, validate } from "../fixtures/replay-orders";
import { isolatedConfig } from "../support/env";
import { startTestWeft, type TestWeft } from "../support/weft";

const ROOT = join(__dirname, "..", "..");
const MODULE = "test/fixtures/replay-orders.ts";
const CHANGED = "test/fixtures/replay-orders-changed.ts";

/** A type the modules replayed do not define: its runs are skipped. */
const pingFlow = defineWorkflow("pingFlow", () => Promise.resolve({ pong: true }));
const noop = defineStep("noop", () => null);

let config: WeftConfig;
let weft: TestWeft;
let dir: string;
const ids: string[] = [];
/** `ids` in the tool's order (see beforeAll). */
const newestFirst: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "weft-replay-"));
  config = isolatedConfig();
  weft = await startTestWeft(config, {
    workflows: [orderFlow, pingFlow],
    steps: [validate, charge, noop],
  });
  for (const amount of [10, 20, 30]) {
    const { workflowId } = await weft.client.start(orderFlow, {
      workflowId: `order-${amount}`,
      input: { amount },
    });
    ids.push(workflowId);
  }
  await weft.client.start(pingFlow, { workflowId: "ping-1" });
  for (const id of [...ids, "ping-1"]) await weft.client.result(id, { timeoutMs: 30_000 });
  // The order the tool lists runs in: latest WorkflowStarted first, ties by ID (latest first).
  // Started one after the other, the runs may still be decided in another order (they sit on
  // different partitions) or in the same millisecond.
  const startedAt = new Map<string, number>();
  for (const id of ids) startedAt.set(id, (await weft.client.getHistory(id))[0]!.at);
  newestFirst.push(
    ...[...ids].sort((a, b) => startedAt.get(b)! - startedAt.get(a)! || (a < b ? 1 : -1)),
  );
});

afterAll(async () => {
  await weft?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `weft <args>` from the sources, on the test's topics. */
function cli(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/weft.ts", ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KAFKA_BROKERS: config.kafkaBrokers.join(","),
      WEFT_TOPIC_PREFIX: config.topicPrefix,
      WEFT_LOG_LEVEL: "warn",
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

/** The line of a fixture file that holds `marker` (a comment after the call it names). */
function lineOf(file: string, marker: string): number {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const index = lines.findIndex((l) => l.includes(`// ${marker}`));
  if (index < 0) throw new Error(`no line of ${file} marked ${marker}`);
  return index + 1;
}

interface Verdict {
  workflowId: string;
  runStartSeq: number;
  verdict: string;
  divergence: {
    eventSeq: number;
    event: string;
    expected: string;
    found: string;
    source: { file: string; line: number } | null;
  } | null;
}
interface Summary {
  checked: number;
  passed: number;
  diverged: number;
  skipped: number;
  skippedTypes: Record<string, number>;
  matched: number;
  runs: Verdict[];
}

/** Each run's verdict, by workflow ID: what must be the same whatever the source. */
function verdicts(summary: Summary): Record<string, unknown> {
  return Object.fromEntries(
    summary.runs.map((r) => [r.workflowId, { verdict: r.verdict, divergence: r.divergence }]),
  );
}

/** What the changed module must say of one of the recorded runs. */
function changedVerdict(workflowId: string) {
  return {
    workflowId,
    runStartSeq: 1,
    verdict: "diverged",
    divergence: expect.objectContaining({
      kind: "command",
      // 1 WorkflowStarted, 2-4 validate scheduled, started, completed, 5 charge scheduled.
      eventSeq: 5,
      event: 'StepScheduled "charge"',
      expected: 'step "charge"',
      found: 'step "reserve"',
      source: {
        file: join(ROOT, CHANGED),
        line: lineOf(CHANGED, "the inserted step"),
        column: expect.any(Number),
      },
    }),
  };
}

describe("on Kafka", () => {
  let unchanged: Summary;
  let changed: Summary;

  it("passes the recorded runs through the code that made them, counting them", async () => {
    const res = await cli(["replay", "workflows", "--module", MODULE, "--json"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    unchanged = JSON.parse(res.stdout) as Summary;
    expect(unchanged).toMatchObject({
      checked: 3,
      passed: 3,
      diverged: 0,
      skipped: 1,
      skippedTypes: { pingFlow: 1 },
    });
    // Most recently started first.
    expect(unchanged.runs.map((r) => r.workflowId)).toEqual(newestFirst);

    const text = await cli(["replay", "workflows", "--module", MODULE]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^3 run\(s\) checked from the topic \S+\.history on \S+: 3 passed, 0 diverged, 1 skipped \(unknown type: pingFlow ×1\)\n$/,
    );
  });

  it("names each run, its event and the source line of the changed call; exit 1", async () => {
    const res = await cli(["replay", "workflows", "--module", CHANGED, "--json"]);
    expect(res.code).toBe(1);
    changed = JSON.parse(res.stdout) as Summary;
    expect(changed).toMatchObject({ checked: 3, passed: 0, diverged: 3 });
    expect(changed.runs).toEqual(
      newestFirst.map((id): unknown => expect.objectContaining(changedVerdict(id))),
    );

    // The readable form: one line per run, then the counts.
    const text = await cli(["replay", "workflows", "--module", CHANGED, "--type", "orderFlow"]);
    expect(text.code).toBe(1);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const line = lineOf(CHANGED, "the inserted step");
    for (const [i, id] of newestFirst.entries()) {
      expect(lines[i]).toMatch(
        new RegExp(
          `^${id} \\(orderFlow, run from seq 1, started \\S+\\): event 5 StepScheduled "charge": ` +
            `history has step "charge" as command 2, the code asks for step "reserve" at ` +
            `test/fixtures/replay-orders-changed\\.ts:${line}:\\d+$`,
        ),
      );
    }
    expect(lines[3]).toMatch(/: 0 passed, 3 diverged, 0 skipped \(unknown type\)$/);
  });

  it("filters by workflow ID and type, and keeps the most recent runs under --limit", async () => {
    const one = await cli([
      "replay",
      "workflows",
      "--module",
      CHANGED,
      "--workflow-id",
      ids[0]!,
      "--json",
    ]);
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout)).toMatchObject({ checked: 1, runs: [{ workflowId: ids[0] }] });

    const limited = await cli(["replay", "workflows", "--module", MODULE, "--limit", "1"]);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toContain("1 run(s) checked");
    expect(limited.stdout).toContain("2 older matching run(s) left out by --limit 1");

    const unknown = await cli(["replay", "workflows", "--module", MODULE, "--type", "pingFlow"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^weft: INVALID_INPUT: --type pingFlow: .* defines no such workflow/,
    );
  });

  it("exports a history that checkReplay and --file give the same verdicts on", async () => {
    const file = join(dir, "order.json");
    const exported = await cli(["history", "export", ids[1]!, "--out", file]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain(`of ${ids[1]} (run(s) from seq 1) written to ${file}`);
    const history = readHistoryFile(file);
    expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
    expect(history.at(-1)!.body.type).toBe("WorkflowCompleted");
    expect((await checkReplay(orderFlow, history)).ok).toBe(true);

    const same = await cli(["replay", "workflows", "--module", MODULE, "--file", file, "--json"]);
    expect(same.code).toBe(0);
    const fromFile = JSON.parse(same.stdout) as Summary;
    expect(verdicts(fromFile)).toEqual({ [ids[1]!]: verdicts(unchanged)[ids[1]!] });

    const diverged = await cli([
      "replay",
      "workflows",
      "--module",
      CHANGED,
      "--file",
      file,
      "--json",
    ]);
    expect(diverged.code).toBe(1);
    expect(verdicts(JSON.parse(diverged.stdout) as Summary)).toEqual({
      [ids[1]!]: verdicts(changed)[ids[1]!],
    });

    const missing = await cli(["history", "export", "never-started"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^weft: NOT_FOUND: no history of workflow never-started/);
  });
});

describe("on an embedded log (--dir)", () => {
  it("replays the runs of a stopped weft dev directory, and refuses a directory in use", async () => {
    const logDir = join(dir, "dev");
    const embedded = await startEmbedded({
      dir: logDir,
      workflows: [orderFlow],
      steps: [validate, charge],
      database: false,
      config: { logLevel: "warn", topicPrefix: config.topicPrefix },
    });
    try {
      const client = await embedded.connectClient();
      try {
        const { workflowId } = await client.start(orderFlow, {
          workflowId: "order-embedded",
          input: { amount: 5 },
        });
        await client.result(workflowId, { timeoutMs: 30_000 });
      } finally {
        await client.close();
      }
      const busy = await cli(["replay", "workflows", "--module", MODULE, "--dir", logDir]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/in use by process .*stop `weft dev` on it first/);
    } finally {
      await embedded.stop();
    }

    const same = await cli(["replay", "workflows", "--module", MODULE, "--dir", logDir, "--json"]);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ checked: 1, passed: 1 });
    const diverged = await cli([
      "replay",
      "workflows",
      "--module",
      CHANGED,
      "--dir",
      logDir,
      "--json",
    ]);
    expect(diverged.code).toBe(1);
    expect((JSON.parse(diverged.stdout) as Summary).runs).toEqual([
      expect.objectContaining(changedVerdict("order-embedded")),
    ]);
  });
});
