/**
 * The worker's side of step logs, without services: the bound holds while a step logs (lines,
 * bytes of a line, bytes of an attempt), lines after the attempt ended are not kept, the record
 * round-trips through its schema, and a record that cannot be sent is a warning, never a wait.
 */
import pino from "pino";
import { systemClock, type Clock } from "../../core/clock";
import type { Logger } from "../../core/logger";
import { stepLogCodec } from "../../schemas/codec";
import type { StepLogRecord } from "../../schemas/types";
import type { PortSender } from "../../transport/port";
import { STEP_LOG_LIMITS, StepLogCapture } from "../../workers/step-log";
import { StepLogSender } from "../../workers/step-log-sender";

const clock: Clock = { ...systemClock, now: () => Date.UTC(2030, 0, 1) };
const ids = { workflowId: "w-1", stepSeq: 3, attempt: 2, stepName: "charge", workerId: "w" };

/** A logger that keeps what it is given. */
function memoryLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (text: string) => lines.push(JSON.parse(text) as { level: number; msg: string }) },
  );
  return { logger, lines };
}

it("keeps 100 lines, counts the rest, and writes every line to the worker's log", () => {
  const { logger, lines } = memoryLogger();
  const capture = new StepLogCapture(logger, clock);
  for (let i = 0; i < 250; i++) capture.log.info(`line ${i}`, { i });
  expect(capture.size).toBe(STEP_LOG_LIMITS.lines);
  const record = capture.close(ids)!;
  expect(record.dropped).toBe(150);
  expect(record.lines).toHaveLength(101);
  expect(record.lines.at(-1)).toMatchObject({ level: "warn", fields: '{"droppedLines":150}' });
  expect(record.lines.at(-1)!.message).toMatch(/^150 more lines dropped/);
  expect(lines).toHaveLength(250);
  expect(lines[0]).toMatchObject({ msg: "line 0", stepLog: true, fields: { i: 0 } });
});

it("cuts a line to 8 KiB and stops at 64 KiB an attempt", () => {
  const { logger } = memoryLogger();
  const capture = new StepLogCapture(logger, clock);
  for (let i = 0; i < 20; i++) capture.log.warn("é".repeat(10_000));
  const record = capture.close(ids)!;
  const bytes = (text: string) => Buffer.byteLength(text);
  for (const line of record.lines.slice(0, -1)) {
    expect(bytes(line.message)).toBeLessThanOrEqual(STEP_LOG_LIMITS.lineBytes);
    expect(line.message).toMatch(/^é+… \(cut\)$/);
  }
  const kept = record.lines.length - 1;
  expect(kept * STEP_LOG_LIMITS.lineBytes).toBeLessThanOrEqual(STEP_LOG_LIMITS.attemptBytes);
  expect(kept + record.dropped).toBe(20);
  expect(record.dropped).toBeGreaterThan(0);
});

it("sends nothing for an attempt that logged nothing, and keeps no line after the end", () => {
  const { logger, lines } = memoryLogger();
  const quiet = new StepLogCapture(logger, clock);
  expect(quiet.close(ids)).toBeUndefined();
  const late = new StepLogCapture(logger, clock);
  const log = late.log;
  log.error("during");
  const record = late.close(ids)!;
  log.error("after the attempt ended");
  expect(record.lines.map((l) => l.message)).toEqual(["during"]);
  expect(lines.map((l) => l.msg)).toEqual(["during", "after the attempt ended"]);
});

it("round-trips a record through its schema", () => {
  const record: StepLogRecord = {
    ...ids,
    at: 1,
    lines: [{ level: "debug", message: "m", fields: '{"a":1}', at: 1 }],
    dropped: 0,
  };
  expect(stepLogCodec.decode(stepLogCodec.encode(record), stepLogCodec.headers)).toEqual(record);
});

it("never waits for a send, and warns when one fails", async () => {
  const { logger, lines } = memoryLogger();
  let fail: (err: Error) => void = () => undefined;
  const producer = {
    send: () => new Promise((_, reject) => (fail = reject)),
  } as unknown as PortSender;
  const sender = new StepLogSender(producer, "t.step-logs");
  const record = new StepLogCapture(logger, clock);
  record.log.info("x");
  // deliver returns at once while the send hangs.
  sender.deliver(record.close(ids)!, logger);
  fail(new Error("broker gone"));
  await sender.flush(1000);
  expect(lines.at(-1)).toMatchObject({
    level: 40,
    msg: expect.stringContaining("could not send") as string,
  });
});
