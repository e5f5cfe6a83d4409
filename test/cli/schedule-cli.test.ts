/**
 * `weft schedule …` end to end: decider, worker, projector and API in one runtime hosting
 * schedules, on the real Kafka, PostgreSQL and Redis; the CLI runs as a child process from its
 * sources and reaches the API only through WEFT_API_URL.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { recordTick, scheduledJob } from "../fixtures/scheduled";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ROOT = join(__dirname, "..", "..");
let db: TestSchema;
let runtime: Runtime;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function weft(args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/weft.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, WEFT_API_URL: runtime.api!.address },
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

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  runtime = await startRuntime({
    config,
    logger: testLogger(config),
    roles: ["decider", "worker", "projector", "api"],
    workflows: [scheduledJob],
    steps: [recordTick],
    schedules: true,
    api: { port: 0 },
  });
  await runtime.decider?.ready();
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await db?.drop();
});

it("creates, lists, describes, pauses, resumes and deletes a schedule", async () => {
  // The API takes schedules once the projector has the decider's registration.
  const created = await waitFor("the create to be accepted", async () => {
    const res = await weft([
      "schedule",
      "create",
      "cli-hourly",
      "scheduledJob",
      "--cron",
      "0 * * * *",
      "--input",
      '{"holdMs":0}',
      "--overlap",
      "buffer",
    ]);
    return res.code === 0 ? res : undefined;
  });
  expect(created.stdout.trim()).toBe("schedule:cli-hourly");

  const listed = await waitFor("the schedule in the list", async () => {
    const res = await weft(["schedule", "list"]);
    return res.stdout.includes("cli-hourly") ? res : undefined;
  });
  expect(listed.stdout).toMatch(/^NAME\s+SPEC\s+STARTS\s+OVERLAP\s+PAUSED\s+NEXT TICK\s+RUNS/);
  // Its runs are 0, or 1 when the test straddles the top of an hour (the cron's first tick).
  expect(listed.stdout).toMatch(
    /cli-hourly\s+cron 0 \* \* \* \* \(UTC\)\s+scheduledJob\s+buffer\s+no\s+\S+:00:00\.000Z\s+[01]\n/,
  );

  const described = await weft(["schedule", "describe", "cli-hourly", "--json"]);
  expect(described.code).toBe(0);
  const view = JSON.parse(described.stdout) as { nextTicks: string[]; input: unknown };
  expect(view.nextTicks).toHaveLength(5);
  expect(view.nextTicks.every((t) => t.endsWith(":00:00.000Z"))).toBe(true);
  expect(view.input).toEqual({ holdMs: 0 });

  expect((await weft(["schedule", "pause", "cli-hourly"])).code).toBe(0);
  await waitFor("paused in describe", async () => {
    const res = await weft(["schedule", "describe", "cli-hourly"]);
    return /paused\s+yes/.test(res.stdout) && res.stdout.includes("(paused or none)");
  });
  expect((await weft(["schedule", "resume", "cli-hourly"])).code).toBe(0);
  expect((await weft(["schedule", "delete", "cli-hourly"])).code).toBe(0);
  await waitFor("deleted", async () => {
    const res = await weft(["schedule", "describe", "cli-hourly"]);
    return res.stdout.includes("(COMPLETED)");
  });
}, 90_000);

it("refuses a bad schedule with INVALID_SCHEDULE and exit 2, one line on stderr", async () => {
  const res = await weft(["schedule", "create", "bad", "scheduledJob", "--cron", "0 25 * * *"]);
  expect(res.code).toBe(2);
  expect(res.stderr.trim()).toMatch(
    /^weft: INVALID_SCHEDULE: cron hour field "25": 25 outside 0-23$/,
  );
  const noSpec = await weft(["schedule", "create", "bad", "scheduledJob"]);
  expect(noSpec.code).toBe(2);
  expect(noSpec.stderr).toMatch(/INVALID_SCHEDULE: a schedule needs --cron/);
}, 60_000);
