/** The CLI's readable output and wait progress, without services. */
import { summary } from "../../cli/commands/workflow-history";
import { Progress, type ProgressStream } from "../../cli/progress";
import { describeWaiting, errorMessage } from "../../cli/runs";
import { duration, fields, table, time } from "../../cli/tables";

function stream(isTTY: boolean): ProgressStream & { text: string } {
  return {
    isTTY,
    columns: 60,
    text: "",
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

afterEach(() => jest.useRealTimers());

it("tables align columns, numbers to the right", () => {
  const out = table(
    [
      { seq: 1, name: "charge", status: "completed" },
      { seq: 12, name: "ship", status: "failed" },
    ],
    [
      { header: "SEQ", value: (r) => String(r.seq), right: true },
      { header: "NAME", value: (r) => r.name },
      { header: "STATUS", value: (r) => r.status },
    ],
  );
  expect(out).toBe(
    ["SEQ  NAME    STATUS", "  1  charge  completed", " 12  ship    failed"].join("\n"),
  );
  expect(table([], [{ header: "X", value: String }], "nothing")).toBe("nothing");
  expect(
    fields([
      ["status", "RUNNING"],
      ["closed", undefined],
      ["waiting on", "x"],
    ]),
  ).toBe("status      RUNNING\nwaiting on  x");
  expect([850, 12_340, 245_000, 7_380_000].map(duration)).toEqual([
    "850 ms",
    "12.3 s",
    "4m05s",
    "2h03m",
  ]);
});

it("waitingOn and errors read as short phrases", () => {
  expect(
    describeWaiting([
      {
        kind: "step",
        stepSeq: 2,
        stepName: "charge",
        attempt: 1,
        state: "started",
        workerId: "w1",
      },
      { kind: "signal", signalName: "approve", dueAt: "2026-01-01T00:00:00.000Z" },
    ]),
  ).toBe(
    'step charge #2 (attempt 1, started on w1); signal "approve" until 2026-01-01T00:00:00.000Z',
  );
  expect(describeWaiting([])).toBe("nothing");
  const due = { kind: "timer", dueAt: "2026-01-01T00:00:10.000Z" };
  expect(describeWaiting([due], Date.parse("2026-01-01T00:00:06.000Z"))).toBe("timer due in 4.0 s");
  expect(errorMessage({ name: "Error", message: "declined", code: "TERMINAL" })).toBe(
    "declined (TERMINAL)",
  );
  expect(errorMessage({ code: "WORKFLOW_CANCELLED", reason: "done" })).toBe(
    "done (WORKFLOW_CANCELLED)",
  );
});

it("on a terminal, progress is one line rewritten in place and cleared at the end", () => {
  jest.useFakeTimers();
  const tty = stream(true);
  let state = "PENDING";
  const progress = new Progress("waiting for a", tty).start(() => state);
  jest.advanceTimersByTime(2000);
  state = "RUNNING, waiting on timer";
  progress.refresh();
  progress.stop();
  const frames = tty.text.split("\r\x1b[2K");
  expect(frames).toEqual([
    "",
    "waiting for a: 0s, PENDING",
    "waiting for a: 1s, PENDING",
    "waiting for a: 2s, PENDING",
    "waiting for a: 2s, RUNNING, waiting on timer",
    "",
  ]);
  expect(tty.text).not.toContain("\n");
});

it("elsewhere, progress is a plain line every 5 s, none for a short wait", () => {
  jest.useFakeTimers();
  const log = stream(false);
  let state = "PENDING";
  const progress = new Progress("waiting for a", log).start(() => state);
  jest.advanceTimersByTime(4000);
  expect(log.text).toBe("");
  state = "RUNNING";
  progress.refresh();
  jest.advanceTimersByTime(7000);
  progress.stop();
  expect(log.text).toBe("waiting for a: 5s, RUNNING\nwaiting for a: 10s, RUNNING\n");
});

it("times are ISO-8601 in UTC; history summaries show epoch times and payloads readably", () => {
  expect(time("2026-01-01T00:00:00.000Z")).toBe("2026-01-01T00:00:00.000Z");
  expect(time(Date.parse("2026-01-01T00:00:04.250Z"))).toBe("2026-01-01T00:00:04.250Z");
  expect([time(null), time(undefined)]).toEqual(["-", "-"]);
  expect(
    summary({
      type: "TimerStarted",
      timerSeq: 2,
      durationMs: 5000,
      dueAt: Date.parse("2026-01-01T00:00:05.000Z"),
    }),
  ).toBe('{"timerSeq":2,"durationMs":5000,"dueAt":"2026-01-01T00:00:05.000Z"}');
  expect(summary({ type: "WorkflowCompleted", result: '{"sent":true}' })).toBe(
    '{"result":{"sent":true}}',
  );
});
