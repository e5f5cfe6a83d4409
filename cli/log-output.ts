/**
 * How a `weft` process writes its logs. `json`: pino's JSON lines, one per record, for log
 * collectors, pipes and tests (what `weft start` writes, and `weft dev` when stdout is not a
 * terminal). `pretty`: one short line per record for a person at a terminal (`weft dev` on a
 * terminal), `12:04:05.120 WARN  worker: could not report the step; trying again  failures=1`.
 * `WEFT_LOG_FORMAT=pretty|json` overrides the choice.
 */
import type pino from "pino";
import { styleText } from "node:util";
import { ConfigError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import { cut, oneLine } from "./tables";

export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A stream a format is chosen for: a terminal or not. */
export interface OutputStream {
  isTTY?: boolean;
  write(text: string): boolean;
}

/**
 * `WEFT_LOG_FORMAT` when set, else `pretty` when `humanOnTerminal` and `stream` is a terminal,
 * else `json`.
 */
export function chooseLogFormat(
  env: NodeJS.ProcessEnv,
  stream: OutputStream,
  humanOnTerminal: boolean,
): LogFormat {
  const raw = env.WEFT_LOG_FORMAT?.trim().toLowerCase();
  if (raw) {
    if (!(LOG_FORMATS as readonly string[]).includes(raw)) {
      throw new ConfigError(
        `WEFT_LOG_FORMAT must be ${LOG_FORMATS.join(" or ")}, got ${JSON.stringify(env.WEFT_LOG_FORMAT)}`,
      );
    }
    return raw as LogFormat;
  }
  return humanOnTerminal && stream.isTTY ? "pretty" : "json";
}

/** Colours on a terminal that accepts them; plain text elsewhere (and with NO_COLOR). */
export type Paint = (
  style: "dim" | "red" | "yellow" | "green" | "cyan" | "bold",
  text: string,
) => string;

export function paintFor(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): Paint {
  const colours = stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
  return colours ? (style, text) => styleText(style, text) : (_style, text) => text;
}

/** `12:04:05.120`: the local time of day, to the millisecond. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** Fields every record has, or that the line shows in its own place. */
const SHOWN_ELSEWHERE = new Set([
  "level",
  "time",
  "pid",
  "hostname",
  "msg",
  "v",
  "role",
  "component",
]);

/** A value in `key=value`: bare when it is one word, else JSON; long ones cut. */
function fieldValue(value: unknown): string {
  if (typeof value === "string")
    return /^[^\s"=]{1,80}$/.test(value) ? value : cut(JSON.stringify(value), 80);
  if (typeof value === "number" || typeof value === "boolean" || value === null)
    return String(value);
  // Parsed from JSON: it stringifies back.
  return cut(JSON.stringify(value), 80);
}

/** An error as `Name: message` (just the message for a plain Error), on one line. */
function errorText(err: unknown): string {
  if (typeof err !== "object" || err === null) return String(err);
  const e = err as { type?: unknown; name?: unknown; message?: unknown; code?: unknown };
  const name = typeof e.type === "string" ? e.type : typeof e.name === "string" ? e.name : "";
  const message = typeof e.message === "string" ? e.message : JSON.stringify(err);
  const code = typeof e.code === "string" ? ` (${e.code})` : "";
  return cut(oneLine(`${name && name !== "Error" ? `${name}: ` : ""}${message}${code}`), 300);
}

/** One pino JSON record as one short line. A line that is not a record is kept as it is. */
export function formatLogRecord(json: string, paint: Paint = (_s, t) => t): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = typeof record.level === "number" ? record.level : 30;
  const label = (LEVELS[level] ?? String(level)).padEnd(5);
  const where = record.role ?? record.component;
  const fields = Object.entries(record)
    .filter(([key, value]) => !SHOWN_ELSEWHERE.has(key) && value !== undefined)
    .map(
      ([key, value]) =>
        `${key}=${key === "err" ? JSON.stringify(errorText(value)) : fieldValue(value)}`,
    );
  const time = typeof record.time === "number" ? clockTime(record.time) : "";
  const levelText =
    level >= 50 ? paint("red", label) : level >= 40 ? paint("yellow", label) : paint("dim", label);
  const msg = typeof record.msg === "string" ? oneLine(record.msg) : "";
  return (
    `${paint("dim", time)} ${levelText} ${typeof where === "string" ? `${where}: ` : ""}${msg}` +
    (fields.length > 0 ? `  ${paint("dim", fields.join(" "))}` : "")
  );
}

/** A pino destination that writes each record as one short line to `stream`. */
export function prettyDestination(stream: OutputStream, paint: Paint): pino.DestinationStream {
  return {
    write(line: string): void {
      stream.write(`${formatLogRecord(line, paint)}\n`);
    },
  };
}

/** The logger of a `weft` command in `format`, writing to stdout. */
export function cliLogger(
  format: LogFormat,
  level: string,
  bindings: Record<string, unknown> = {},
): Logger {
  return format === "pretty"
    ? createLogger(level, bindings, prettyDestination(process.stdout, paintFor(process.stdout)))
    : createLogger(level, bindings);
}
