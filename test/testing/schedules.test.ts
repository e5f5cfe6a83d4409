/**
 * Schedules on the embedded log with the test kit's virtual clock: ticks on time with one run
 * per tick, pause and resume, the overlap policies, catch-up after downtime within its window,
 * update, delete, and a schedule that continues as new keeps its count.
 */
import { InvalidScheduleError, tickWorkflowId, type ScheduleState } from "../../sdk";
import { assertReplays, createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { scheduleWorkflow } from "../../workflow/schedules/schedule-workflow";
import { recordTick, scheduledJob, ticksRun } from "../fixtures/scheduled";
import { count } from "../support/history";

const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const ticks = (name: string, ...minutes: number[]) =>
  minutes.map((m) => tickWorkflowId(name, T0 + m * MIN));

describe("schedules in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    ticksRun.length = 0;
    env = await createTestEnvironment({
      workflows: [scheduledJob],
      steps: [recordTick],
      schedules: true,
      startTime: T0,
    });
  });

  afterEach(async () => {
    await env.close();
  });

  /** Each of these runs started once (one WorkflowStarted) and its step ran once. */
  async function expectRanOnce(ids: string[]): Promise<void> {
    expect([...ticksRun].sort()).toEqual([...ids].sort());
    for (const id of ids) expect(count(await env.history(id), "WorkflowStarted")).toBe(1);
  }

  it("starts one run per cron tick and publishes the next ticks", async () => {
    await env.schedules.create({
      name: "every5",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
    });
    await env.skipTime(16 * MIN);
    await expectRanOnce(ticks("every5", 5, 10, 15));
    const state = (await env.schedules.describe("every5"))!;
    expect(state.runsStarted).toBe(3);
    expect(state.nextTicks).toEqual([20, 25, 30, 35, 40].map((m) => iso(T0 + m * MIN)));
    expect(state.recentRuns.map((r) => r.workflowId)).toEqual(ticks("every5", 5, 10, 15));
    expect(state.schedule.overlap).toBe("skip");
  });

  it("starts nothing while paused, and does not catch up the paused ticks on resume", async () => {
    await env.schedules.create({ name: "p", spec: { everyMs: MIN }, workflowType: "scheduledJob" });
    await env.skipTime(2 * MIN + 1000);
    await env.schedules.pause("p");
    await env.skipTime(5 * MIN);
    expect((await env.schedules.describe("p"))!.nextTicks).toEqual([]);
    await env.schedules.resume("p");
    await env.skipTime(2 * MIN);
    // Paused at 2:01, resumed at 7:01: the ticks of 3 to 7 never run; 8 and 9 do.
    await expectRanOnce(ticks("p", 1, 2, 8, 9));
  });

  it("skip: a tick while the last run is open starts nothing and is counted", async () => {
    await env.schedules.create({
      name: "s",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
      input: { holdMs: 7 * MIN },
      overlap: "skip",
    });
    await env.skipTime(21 * MIN);
    // 5 runs to 12: 10 is skipped; 15 runs to 22: 20 is skipped.
    await expectRanOnce(ticks("s", 5, 15));
    expect((await env.schedules.describe("s"))!.ticksSkipped).toBe(2);
  });

  it("buffer: keeps one tick and starts it once the open run closed", async () => {
    await env.schedules.create({
      name: "b",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
      input: { holdMs: 12 * MIN },
      overlap: "buffer",
    });
    await env.skipTime(18 * MIN);
    // 5 runs to 17; 10 is buffered, 15 skipped; 10 starts within a poll of 17.
    await expectRanOnce(ticks("b", 5, 10));
    const started = (await env.history(tickWorkflowId("b", T0 + 10 * MIN)))[0]!.at;
    expect(started).toBeGreaterThanOrEqual(T0 + 17 * MIN);
    expect(started).toBeLessThanOrEqual(T0 + 17 * MIN + 5000);
    const state = (await env.schedules.describe("b"))!;
    expect(state.ticksSkipped).toBe(1);
    expect(state.buffered).toBeNull();
  });

  it("allow: starts every tick's run while others are open", async () => {
    await env.schedules.create({
      name: "a",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
      input: { holdMs: 60 * MIN },
      overlap: "allow",
    });
    await env.skipTime(16 * MIN);
    await expectRanOnce(ticks("a", 5, 10, 15));
  });

  it("catch-up: after downtime starts the missed ticks within the window, each once, and counts the older ones", async () => {
    await env.schedules.create({
      name: "c",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
      overlap: "allow",
      catchupWindowMs: 12 * MIN,
    });
    await env.skipTime(6 * MIN);
    await expectRanOnce(ticks("c", 5));
    // Downtime: the clock jumps to 0:31 at once; the schedule's timer (due 0:10) fires late.
    env.clock.advanceTo(T0 + 31 * MIN);
    await env.idle();
    // 0:19 and later are within 12 minutes of 0:31: 20, 25 and 30 run; 10 and 15 are missed.
    await expectRanOnce(ticks("c", 5, 20, 25, 30));
    const state = (await env.schedules.describe("c"))!;
    expect(state.ticksMissed).toBe(2);
    expect(state.runsStarted).toBe(4);
  });

  it("update changes the spec from now on; delete ends the schedule with its counts", async () => {
    await env.schedules.create({ name: "u", spec: { everyMs: MIN }, workflowType: "scheduledJob" });
    await env.skipTime(MIN + 1000);
    await env.schedules.update("u", { spec: { cron: "0 * * * *" } });
    await env.skipTime(60 * MIN);
    await expectRanOnce(ticks("u", 1, 60));
    await env.schedules.delete("u");
    expect(await env.result("schedule:u")).toEqual({
      runsStarted: 2,
      ticksSkipped: 0,
      ticksMissed: 0,
      deleted: true,
    });
    const state: ScheduleState = (await env.schedules.describe("u"))!;
    expect(state.deleted).toBe(true);
  });

  it("continues as new to bound its history, keeping its count, and replays", async () => {
    await env.schedules.create({
      name: "long",
      spec: { everyMs: MIN },
      workflowType: "scheduledJob",
    });
    await env.skipTime(150 * MIN + 1000);
    expect(ticksRun).toHaveLength(150);
    expect(new Set(ticksRun).size).toBe(150);
    const history = await env.history("schedule:long");
    expect(count(history, "WorkflowContinuedAsNew")).toBeGreaterThanOrEqual(1);
    expect((await env.schedules.describe("long"))!.runsStarted).toBe(150);
    await assertReplays(scheduleWorkflow, history);
  });

  it("refuses a bad definition before sending anything", async () => {
    await expect(
      env.schedules.create({
        name: "x",
        spec: { cron: "61 * * * *" },
        workflowType: "scheduledJob",
      }),
    ).rejects.toBeInstanceOf(InvalidScheduleError);
    await expect(
      env.schedules.create({ name: "x", spec: { everyMs: 10 }, workflowType: "scheduledJob" }),
    ).rejects.toThrow(/everyMs/);
    await expect(
      env.schedules.create({
        name: "bad name",
        spec: { everyMs: MIN },
        workflowType: "scheduledJob",
      }),
    ).rejects.toMatchObject({ code: "INVALID_SCHEDULE" });
    await expect(env.schedules.update("x", { overlap: "never" as "skip" })).rejects.toMatchObject({
      code: "INVALID_SCHEDULE",
    });
  });
});
