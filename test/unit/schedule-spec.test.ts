import { InvalidScheduleError } from "../../core/errors";
import {
  compileSpec,
  normalizeSchedule,
  patchSchedule,
  tickWorkflowId,
  upcomingTicks,
  type ScheduleDefinition,
} from "../../workflow/schedules/spec";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const base: ScheduleDefinition = {
  name: "reports",
  spec: { cron: "0 * * * *" },
  workflowType: "buildReport",
};

describe("interval ticks", () => {
  it("fall on multiples of everyMs since the epoch, shifted by offsetMs, strictly after", () => {
    const every15 = compileSpec({ everyMs: 15 * 60_000 });
    expect(iso(every15.next(at("2026-03-01T10:07:00Z"))!)).toBe("2026-03-01T10:15:00.000Z");
    expect(iso(every15.next(at("2026-03-01T10:15:00Z"))!)).toBe("2026-03-01T10:30:00.000Z");
    const fivePast = compileSpec({ everyMs: 3_600_000, offsetMs: 300_000 });
    expect(upcomingTicks(fivePast, at("2026-03-01T10:05:00Z"), 3).map(iso)).toEqual([
      "2026-03-01T11:05:00.000Z",
      "2026-03-01T12:05:00.000Z",
      "2026-03-01T13:05:00.000Z",
    ]);
  });
});

describe("normalizeSchedule", () => {
  it("fills in the defaults", () => {
    expect(normalizeSchedule(base)).toEqual({
      ...base,
      input: null,
      overlap: "skip",
      catchupWindowMs: 60_000,
      paused: false,
      note: null,
    });
  });

  it.each([
    [{ name: "" }, /schedule name/],
    [{ name: "-x" }, /schedule name/],
    [{ name: "x".repeat(101) }, /schedule name/],
    [{ spec: {} }, /cron \(a string\) or everyMs/],
    [{ spec: { cron: "* * * * *", everyMs: 1000 } }, /not both/],
    [{ spec: { everyMs: 999 } }, /everyMs must be/],
    [{ spec: { everyMs: 1000.5 } }, /everyMs must be/],
    [{ spec: { everyMs: 60_000, offsetMs: 60_000 } }, /offsetMs/],
    [{ workflowType: "1abc" }, /not a workflow name/],
    [{ workflowType: "weft.schedule" }, /cannot start schedules/],
    [{ overlap: "queue" }, /overlap policy "queue"/],
    [{ catchupWindowMs: 999 }, /catchupWindowMs/],
    [{ paused: "yes" }, /paused must be/],
    [{ note: "n".repeat(1001) }, /note/],
  ])("refuses %j with INVALID_SCHEDULE", (change, reason) => {
    const attempt = () => normalizeSchedule({ ...base, ...(change as object) });
    expect(attempt).toThrow(InvalidScheduleError);
    expect(attempt).toThrow(reason);
  });
});

describe("patchSchedule", () => {
  it("changes what the patch gives and checks the whole", () => {
    const config = normalizeSchedule({ ...base, note: "hourly" });
    expect(patchSchedule(config, { overlap: "allow", spec: { everyMs: 60_000 } })).toEqual({
      ...config,
      overlap: "allow",
      spec: { everyMs: 60_000, offsetMs: 0 },
    });
    expect(() => patchSchedule(config, { name: "other" } as never)).toThrow(/name cannot change/);
    expect(() => patchSchedule(config, { spec: { cron: "* * *" } })).toThrow(InvalidScheduleError);
  });
});

it("names a tick's run after the schedule and the tick", () => {
  expect(tickWorkflowId("reports", at("2026-03-01T10:00:00Z"))).toBe(
    "reports:2026-03-01T10:00:00.000Z",
  );
});
