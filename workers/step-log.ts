import type { Clock } from "../core/clock";
import type { Logger } from "../core/logger";
import type { StepLogLevel, StepLogLine, StepLogRecord } from "../schemas/types";
import type { StepLog } from "../workflow/definitions";

/**
 * The bound of one attempt's log: what the read models keep per attempt, and what a step that
 * logs in a loop costs the worker's memory. Enforced while capturing: a line past it is counted
 * and let go at once, never held and cut later.
 */
export const STEP_LOG_LIMITS = Object.freeze({
  /** Lines kept per attempt. */
  lines: 100,
  /** Bytes of one line (message and fields as JSON, UTF-8); a longer message is cut. */
  lineBytes: 8 * 1024,
  /** Bytes of all kept lines of an attempt. */
  attemptBytes: 64 * 1024,
});

export type StepLogLimits = typeof STEP_LOG_LIMITS;

const LEVELS: readonly StepLogLevel[] = ["debug", "info", "warn", "error"];
const CUT = "… (cut)";

/**
 * One attempt's `step.log`: every line goes to the worker's pino logger (whose bindings name the
 * workflow, step seq and attempt) and, within STEP_LOG_LIMITS, into the attempt's record. Once
 * the attempt has ended (`close`) lines still go to pino but are not kept: the record has left.
 */
export class StepLogCapture {
  readonly log: StepLog;
  private readonly lines: StepLogLine[] = [];
  private bytes = 0;
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly limits: StepLogLimits = STEP_LOG_LIMITS,
  ) {
    const log = {} as Record<StepLogLevel, StepLog["info"]>;
    for (const level of LEVELS) log[level] = (message, fields) => this.add(level, message, fields);
    this.log = Object.freeze(log);
  }

  /** Lines kept so far. */
  get size(): number {
    return this.lines.length;
  }

  /**
   * Ends the capture and returns the attempt's record, or undefined when it logged nothing
   * (no record is sent for it). When lines were dropped, a marker line saying how many follows
   * the kept ones, so every reader shows it without knowing the bound.
   */
  close(ids: Omit<StepLogRecord, "at" | "lines" | "dropped">): StepLogRecord | undefined {
    this.closed = true;
    if (this.lines.length === 0 && this.dropped === 0) return undefined;
    const at = this.clock.now();
    const lines = [...this.lines];
    if (this.dropped > 0) {
      lines.push({
        level: "warn",
        message: droppedMessage(this.dropped, this.limits),
        fields: JSON.stringify({ droppedLines: this.dropped }),
        at,
      });
    }
    return { ...ids, at, lines, dropped: this.dropped };
  }

  private add(level: StepLogLevel, message: unknown, fields: unknown): void {
    const text = typeof message === "string" ? message : String(message);
    const json = fieldsJson(fields);
    // pino gets the line whole, whatever the bound: the worker's log is the operator's own.
    const bindings = json === null ? {} : { fields: fields as object };
    this.logger[level]({ stepLog: true, ...bindings }, text);
    if (this.closed) return;
    if (this.lines.length >= this.limits.lines) {
      this.dropped += 1;
      return;
    }
    const line = fitLine(level, text, json, this.clock.now(), this.limits.lineBytes);
    const size = lineBytes(line);
    if (this.bytes + size > this.limits.attemptBytes) {
      this.dropped += 1;
      return;
    }
    this.bytes += size;
    this.lines.push(line);
  }
}

/** The fields as JSON text of an object, or null; what does not serialise says so instead. */
function fieldsJson(fields: unknown): string | null {
  if (fields === undefined || fields === null) return null;
  if (typeof fields !== "object" || Array.isArray(fields)) {
    return JSON.stringify({ value: safeString(fields) });
  }
  try {
    const text = JSON.stringify(fields, (_key, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    );
    return text === "{}" ? null : text;
  } catch (err) {
    return JSON.stringify({ weftNotLogged: `fields not JSON: ${(err as Error).message}` });
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}

/**
 * The line within `maxBytes`: fields too large on their own are replaced by a marker with
 * their size; a message too long is cut (at a character, never inside one) and says so.
 */
function fitLine(
  level: StepLogLevel,
  message: string,
  fields: string | null,
  at: number,
  maxBytes: number,
): StepLogLine {
  let json = fields;
  if (json !== null && Buffer.byteLength(json) > maxBytes / 2) {
    json = JSON.stringify({ weftNotLogged: "fields too large", bytes: Buffer.byteLength(json) });
  }
  const room = maxBytes - (json === null ? 0 : Buffer.byteLength(json));
  let text = message;
  if (Buffer.byteLength(text) > room) {
    const cut = Buffer.from(text)
      .subarray(0, room - Buffer.byteLength(CUT))
      .toString("utf8");
    // A character cut in half decodes to U+FFFD at the end: leave it out.
    text = cut.replace(/\uFFFD$/, "") + CUT;
  }
  return { level, message: text, fields: json, at };
}

function lineBytes(line: StepLogLine): number {
  return (
    Buffer.byteLength(line.message) + (line.fields === null ? 0 : Buffer.byteLength(line.fields))
  );
}

/** Where an attempt's record goes once the attempt has ended. Must not throw. */
export interface StepLogSink {
  /** Takes the record; never rejects, never delays the attempt's report. */
  deliver(record: StepLogRecord, log: Logger): void;
}

/** The marker line after an attempt's kept lines when some were dropped. */
function droppedMessage(dropped: number, limits: StepLogLimits): string {
  const lines = `${dropped} more line${dropped === 1 ? "" : "s"}`;
  return `${lines} dropped: an attempt keeps ${limits.lines} lines, ${limits.attemptBytes / 1024} KiB`;
}
