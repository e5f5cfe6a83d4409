/**
 * The workflow sandbox in the test kit: workflow code's clock is the virtual one, its
 * Math.random() replays (checkReplay) and a timer of the process parks the run, naming it.
 */
import { defineWorkflow, WorkflowBlockedError } from "../../sdk";
import { checkReplay, createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { clocks, coins, plainTimer, sandboxSteps } from "../integration/sandbox-scenario";

const HOUR = 3_600_000;
const START = Date.UTC(2030, 0, 1);
const realNow = Date.now;
const realRandom = Math.random;

/** Date.now() and new Date() before and after an hour of ctx.sleep, next to ctx.now(). */
const overnight = defineWorkflow("overnight", async (ctx) => {
  const read = () => [Date.now(), new Date().getTime(), ctx.now()];
  const before = read();
  await ctx.sleep(HOUR);
  return { before, after: read() };
});

let env: TestEnvironment;

beforeEach(async () => {
  env = await createTestEnvironment({
    workflows: [coins, clocks, plainTimer, overnight],
    steps: sandboxSteps,
    startTime: START,
  });
});

afterEach(async () => {
  await env.close();
  expect(Date.now).toBe(realNow);
  expect(Math.random).toBe(realRandom);
});

it("gives workflow code's Date.now() and new Date() the virtual time", async () => {
  const id = await env.start(overnight);
  const { before, after } = await env.result<{ before: number[]; after: number[] }>(id);
  expect(before).toEqual([START, START, START]);
  expect(after).toEqual([START + HOUR, START + HOUR, START + HOUR]);
  // The test itself, outside workflow code, has the real clock.
  expect(Date.now()).toBeLessThan(START);
});

it("records Math.random() branches that replay through the same code", async () => {
  const id = await env.start(coins);
  const flips = await env.result<string[]>(id);
  const history = await env.history(id);
  const scheduled = history.flatMap((e) =>
    e.body.type === "StepScheduled" ? [e.body.stepName] : [],
  );
  expect(scheduled).toEqual(flips);
  // Replays of the code draw the same numbers, so they ask for the same steps.
  for (let i = 0; i < 3; i++) {
    const report = await checkReplay(coins, history);
    expect(report.divergence).toBeNull();
  }
});

it("parks a run that awaits a setTimeout, with a stable code and a message naming it", async () => {
  const id = await env.start(plainTimer);
  const error = await env.result(id).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowBlockedError);
  expect((error as WorkflowBlockedError).details).toMatchObject({
    blockedCode: "NON_DETERMINISTIC_AWAIT",
  });
  expect((error as Error).message).toContain(`called setTimeout (10 ms) after step "heads"`);
  expect((error as Error).message).toContain("ctx.sleep(ms)");
});
