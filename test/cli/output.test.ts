/** The CLI's readable output and wait progress, without services. */
import { describeChildren, renderStepLogs } from "../../cli/commands/workflow-describe";
import { summary } from "../../cli/commands/workflow-history";
import { chooseLogFormat, formatLogRecord } from "../../cli/log-output";
import { Progress, type ProgressStream } from "../../cli/progress";
import { RunEventLines } from "../../cli/run-events";
import { describeWaiting, errorMessage } from "../../cli/runs";
import { banner } from "../../cli/serve";
import { duration, fields, table, time } from "../../cli/tables";
import type { EventBody } from "../../schemas/types";

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
  expect(
    describeWaiting([
      { kind: "child", childWorkflowId: "order-77/3", workflowType: "shipParcel", since: "x" },
    ]),
  ).toBe("child workflow shipParcel order-77/3");
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

it("the banner suggests the workflow's example input and note, else a placeholder", () => {
  const withExample = banner({
    where: "embedded",
    roles: ["decider", "worker", "projector", "api"],
    workflows: [
      { name: "plain" },
      { name: "signup", example: { input: { email: "o'neil@example.com" }, note: "waits" } },
    ],
    steps: [{ name: "send" }],
    apiAddress: "http://127.0.0.1:8080",
  });
  // The example's workflow is the one suggested; a quote in the input is escaped for the shell.
  expect(withExample).toContain(
    `  ID=$(npx weft workflow start signup --input '{"email":"o'\\''neil@example.com"}')\n`,
  );
  expect(withExample).toContain("  npx weft workflow wait $ID");
  expect(withExample).toContain("signup waits.\n");
  expect(withExample).not.toContain("WEFT_API_URL"); // the default address needs none

  const neutral = banner({
    where: "on Kafka",
    roles: ["decider"],
    workflows: [{ name: "plain" }],
    steps: [],
    apiAddress: "http://127.0.0.1:9999",
  });
  expect(neutral).toContain("  export WEFT_API_URL=http://127.0.0.1:9999\n");
  expect(neutral).toContain(`ID=$(npx weft workflow start plain --input '<its input as JSON>')`);
  expect(neutral).not.toContain("ada@example.com");
});

it("WEFT_LOG_FORMAT overrides the terminal; the human format is one short line per record", () => {
  const tty = { isTTY: true, write: () => true };
  const pipe = { isTTY: false, write: () => true };
  expect(chooseLogFormat({}, tty, true)).toBe("pretty");
  expect(chooseLogFormat({}, pipe, true)).toBe("json");
  expect(chooseLogFormat({}, tty, false)).toBe("json"); // weft start
  expect(chooseLogFormat({ WEFT_LOG_FORMAT: "json" }, tty, true)).toBe("json");
  expect(chooseLogFormat({ WEFT_LOG_FORMAT: "PRETTY" }, pipe, false)).toBe("pretty");
  expect(() => chooseLogFormat({ WEFT_LOG_FORMAT: "xml" }, tty, true)).toThrow(
    /WEFT_LOG_FORMAT must be pretty or json/,
  );

  const at = new Date(2026, 0, 1, 12, 4, 5, 120).getTime();
  expect(
    formatLogRecord(
      JSON.stringify({
        level: 40,
        time: at,
        pid: 1,
        component: "worker",
        workerId: "w-1",
        failures: 2,
        err: { type: "KafkaJSError", message: "broker\ngone", stack: "…" },
        msg: "could not report the step; trying again",
      }),
    ),
  ).toBe(
    '12:04:05.120 WARN  worker: could not report the step; trying again  workerId=w-1 failures=2 err="KafkaJSError: broker gone"',
  );
  expect(formatLogRecord("not json")).toBe("not json");
});

it("run events read as one short line each; a closed run is forgotten", () => {
  const lines = new RunEventLines();
  const at = new Date(2026, 0, 1, 12, 0, 0, 0).getTime();
  const events: [number, EventBody][] = [
    [
      0,
      {
        type: "WorkflowStarted",
        workflowType: "signup",
        input: '{"email":"a@b.c"}',
        idempotencyKey: null,
        requestId: null,
      },
    ],
    [
      1,
      {
        type: "StepScheduled",
        stepSeq: 1,
        stepName: "send",
        attempt: 1,
        input: "{}",
        taskQueue: "default",
        timeoutMs: null,
        retryPolicy: "{}",
      },
    ],
    [2, { type: "StepStarted", stepSeq: 1, attempt: 1, workerId: "w-1", startedAt: at }],
    [
      3,
      {
        type: "StepFailed",
        stepSeq: 1,
        attempt: 1,
        workerId: "w-1",
        error: { name: "Error", message: "smtp down", stack: null, terminal: false, code: null },
        willRetry: true,
      },
    ],
    [
      4,
      { type: "StepRetryScheduled", stepSeq: 1, nextAttempt: 2, delayMs: 1000, dueAt: at + 1004 },
    ],
    [
      1010,
      { type: "StepCompleted", stepSeq: 1, attempt: 2, workerId: "w-1", result: '{"sent":true}' },
    ],
    [1011, { type: "TimerStarted", timerSeq: 2, durationMs: 5000, dueAt: at + 6011 }],
    [6011, { type: "TimerFired", timerSeq: 2 }],
    [
      6012,
      {
        type: "SignalWaitStarted",
        waitSeq: 3,
        signalName: "confirmed",
        timeoutMs: 15_000,
        dueAt: at + 21_012,
      },
    ],
    [21_012, { type: "SignalWaitTimedOut", waitSeq: 3, signalName: "confirmed" }],
    [21_500, { type: "WorkflowCompleted", result: '{"confirmed":false}' }],
  ];
  const out = events.map(([ms, body], i) =>
    lines.line({ workflowId: "s-1", seq: i + 1, at: at + ms, body }),
  );
  expect(out).toEqual([
    '12:00:00.000  s-1  started signup with {"email":"a@b.c"}',
    "12:00:00.001  s-1  step send #1 queued on default",
    "12:00:00.002  s-1  step send #1 running on w-1",
    "12:00:00.003  s-1  step send #1 failed: smtp down (it will be retried)",
    "12:00:00.004  s-1  step send #1 retries in 1.0 s (attempt 2)",
    '12:00:01.010  s-1  step send #1 completed: {"sent":true}',
    "12:00:01.011  s-1  sleeping 5.0 s (timer #2)",
    "12:00:06.011  s-1  timer #2 fired",
    '12:00:06.012  s-1  waiting for signal "confirmed" for up to 15.0 s',
    '12:00:21.012  s-1  no signal "confirmed" came in time: the wait timed out',
    '12:00:21.500  s-1  completed in 21.5 s: {"confirmed":false}',
  ]);
  expect(lines.openRuns).toBe(0);
  // A run this did not see start: its steps by number, no duration.
  expect(
    lines.line({
      workflowId: "s-2",
      seq: 9,
      at,
      body: { type: "StepCompleted", stepSeq: 4, attempt: 1, workerId: null, result: "1" },
    }),
  ).toBe("12:00:00.000  s-2  step #4 completed: 1");
});

it("shows each attempt's step logs under the attempt, one line each", () => {
  const at = "2026-01-01T00:00:01.000Z";
  const steps = [
    { stepSeq: 1, attempt: 1, stepName: "charge", logs: [] },
    {
      stepSeq: 1,
      attempt: 2,
      stepName: "charge",
      logs: [
        { level: "info", message: "charging\nthe card", fields: { order: "A-1" }, at },
        { level: "warn", message: "slow network", fields: null, at },
      ],
    },
  ];
  expect(renderStepLogs(steps)).toBe(
    [
      "#1 charge, attempt 2",
      `  ${at}  INFO   charging the card  {"order":"A-1"}`,
      `  ${at}  WARN   slow network`,
    ].join("\n"),
  );
  expect(renderStepLogs(steps.slice(0, 1))).toBe("(none)");
});

it("describes a run's children in one line, and none as nothing", () => {
  expect(describeChildren([])).toBeUndefined();
  expect(
    describeChildren([
      { id: "order-1/1", status: "COMPLETED" },
      { id: "order-1/2", status: "RUNNING" },
      { id: "order-1/3", status: "COMPLETED" },
      { id: "order-1/4", status: "CANCELLED" },
    ]),
  ).toBe("4 (2 COMPLETED, 1 RUNNING, 1 CANCELLED): order-1/1, order-1/2, order-1/3, …");
});

it("prints a parent's child events as lines", () => {
  const lines = new RunEventLines();
  const event = (seq: number, body: EventBody) => ({ workflowId: "p", seq, at: 0, body });
  const error = { name: "E", message: "no stock", stack: null, terminal: true, code: null };
  const scheduled = lines.line(
    event(2, {
      type: "ChildWorkflowScheduled",
      childSeq: 1,
      childWorkflowId: "p/1",
      workflowType: "ship",
      input: '{"parcel":"a"}',
      parentClosePolicy: "cancel",
    }),
  );
  expect(scheduled).toMatch(/started child ship p\/1 \(#1\) with \{"parcel":"a"\}$/);
  expect(
    lines.line(
      event(3, {
        type: "ChildWorkflowCompleted",
        childSeq: 1,
        childWorkflowId: "p/1",
        result: "7",
      }),
    ),
  ).toMatch(/child p\/1 \(#1\) completed: 7$/);
  expect(
    lines.line(
      event(4, {
        type: "ChildWorkflowFailed",
        childSeq: 2,
        childWorkflowId: "p/2",
        status: "cancelled",
        error,
      }),
    ),
  ).toMatch(/child p\/2 \(#2\) cancelled: no stock$/);
});

it("prints the cancels of a scope's operations as lines", () => {
  const lines = new RunEventLines();
  const event = (seq: number, body: EventBody) => ({ workflowId: "s", seq, at: 0, body });
  lines.line(
    event(2, {
      type: "StepScheduled",
      stepSeq: 1,
      stepName: "export",
      attempt: 1,
      input: "{}",
      taskQueue: "default",
      timeoutMs: null,
      retryPolicy: "{}",
    }),
  );
  expect(
    lines.line(event(3, { type: "StepCancelled", stepSeq: 1, attempt: 1, reason: "too slow" })),
  ).toMatch(/step export #1 cancelled with its scope: too slow$/);
  expect(lines.line(event(4, { type: "TimerCancelled", timerSeq: 2, reason: null }))).toMatch(
    /timer #2 cancelled with its scope$/,
  );
  expect(
    lines.line(
      event(5, { type: "SignalWaitCancelled", waitSeq: 3, signalName: "stop", reason: "done" }),
    ),
  ).toMatch(/wait for signal "stop" cancelled with its scope: done$/);
  expect(
    lines.line(
      event(6, {
        type: "ChildWorkflowCancelRequested",
        childSeq: 4,
        childWorkflowId: "s/4",
        reason: null,
      }),
    ),
  ).toMatch(/child s\/4 \(#4\) cancelled with its scope$/);
});
