/**
 * The test kit keeps step logs in memory, per attempt, with the same bound as a worker: no topic,
 * no projector. Line times are virtual.
 */
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { STEP_LOG_LIMITS } from "../../workers/step-log";
import { stepLogsFlow, stepLogsSteps, stepLogsWorkflows } from "../integration/step-logs-scenario";

const START = Date.UTC(2030, 0, 1);
let env: TestEnvironment;

beforeEach(async () => {
  env = await createTestEnvironment({
    workflows: stepLogsWorkflows,
    steps: stepLogsSteps,
    startTime: START,
  });
});

afterEach(() => env.close());

it("gives each attempt's lines, and the bound with a dropped marker", async () => {
  const id = await env.start(stepLogsFlow, { order: "C-3" });
  await env.result(id);
  const logs = await env.logsOf(id);
  expect(logs.map((l) => [l.stepSeq, l.attempt, l.stepName, l.lines.length, l.dropped])).toEqual([
    [1, 1, "logsThenRetries", 2, 0],
    [1, 2, "logsThenRetries", 2, 0],
    [2, 1, "logsALot", STEP_LOG_LIMITS.lines + 1, 10_000 - STEP_LOG_LIMITS.lines],
  ]);
  expect(logs[0]!.lines).toEqual([
    {
      level: "info",
      message: "charging the card",
      fields: { order: "C-3", attempt: 1 },
      at: START,
    },
    {
      level: "error",
      message: "the card network timed out",
      fields: { retryable: true },
      at: START,
    },
  ]);
  // The retry's backoff passed in virtual time before the second attempt logged.
  expect(logs[1]!.lines[0]!.at).toBeGreaterThan(START);
  expect(logs[2]!.lines.at(-1)).toMatchObject({
    level: "warn",
    fields: { droppedLines: 10_000 - STEP_LOG_LIMITS.lines },
  });
  expect(await env.logsOf("never-started")).toEqual([]);
});

it("cuts a line past 8 KiB and keeps fields that do not serialise as a note", async () => {
  env.replaceStep("logsALot", (_input: unknown, step) => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    step.log.info("x".repeat(20_000));
    step.log.info("circular", circular);
    return {};
  });
  const id = await env.start(stepLogsFlow, { order: "D-4" });
  await env.result(id);
  const [line, circular] = (await env.logsOf(id)).find((l) => l.stepName === "logsALot")!.lines;
  expect(Buffer.byteLength(line!.message)).toBeLessThanOrEqual(STEP_LOG_LIMITS.lineBytes);
  expect(line!.message.endsWith("… (cut)")).toBe(true);
  expect(circular!.fields).toEqual({
    weftNotLogged: expect.stringContaining("fields not JSON") as string,
  });
});
