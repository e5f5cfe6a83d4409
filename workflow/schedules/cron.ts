/**
 * Cron expressions, in UTC: parsed once into the sets of values each field allows, then asked
 * for the first matching time after a given one. Pure (no clock, no I/O), so the schedule
 * workflow computes its ticks with it during replay and gets the same answer every time.
 *
 * Syntax: the standard five fields (minute hour day-of-month month day-of-week), or six with a
 * leading seconds field. Each field is `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or
 * `a/n` (from a to the field's end), or a comma-separated list of those. Months and weekdays
 * take three-letter English names (JAN, MON, case-insensitive); weekday 0 and 7 are Sunday.
 * Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
 *
 * Day of month and day of week follow Vixie cron: when both are restricted (neither starts
 * with `*`), a day matches if either does; otherwise both must.
 *
 * Times are UTC only: there are no time zones and so no daylight-saving gaps or repeats.
 */
import { InvalidScheduleError } from "../../core/errors";

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const SECOND: FieldSpec = { name: "second", min: 0, max: 59 };
const MINUTE: FieldSpec = { name: "minute", min: 0, max: 59 };
const HOUR: FieldSpec = { name: "hour", min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: "day of month", min: 1, max: 31 };
const MONTH: FieldSpec = {
  name: "month",
  min: 1,
  max: 12,
  names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
};
/** 7 is accepted as Sunday and folded onto 0 after parsing. */
const DAY_OF_WEEK: FieldSpec = {
  name: "day of week",
  min: 0,
  max: 7,
  names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** Longer than any expression's longest gap between two matches (29 February in a leap year
 * after a skipped one: 8 years), so "no match within it" means "never". */
const SEARCH_DAYS = 366 * 12;
const DAY_MS = 86_400_000;
export const MAX_CRON_LENGTH = 200;

/** A parsed expression: what each field allows, as sorted lists and lookup tables. */
export interface CronExpression {
  /** The text it was parsed from. */
  readonly source: string;
  /** Whether a seconds field was given (else every match is on a whole minute). */
  readonly hasSeconds: boolean;
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
  /** Both day fields restricted: a day matches if either matches (Vixie cron). */
  readonly eitherDay: boolean;
}

/**
 * Parses a cron expression; throws InvalidScheduleError (INVALID_SCHEDULE) naming the field and
 * what is wrong, including for an expression that can never match (`0 0 30 2 *`).
 */
export function parseCron(text: string): CronExpression {
  if (typeof text !== "string" || text.trim() === "")
    throw new InvalidScheduleError("a cron expression must be a non-empty string");
  if (text.length > MAX_CRON_LENGTH)
    throw new InvalidScheduleError(`a cron expression is at most ${MAX_CRON_LENGTH} characters`);
  const trimmed = text.trim();
  const expanded = trimmed.startsWith("@") ? MACROS[trimmed.toLowerCase()] : trimmed;
  if (expanded === undefined)
    throw new InvalidScheduleError(
      `unknown cron macro ${JSON.stringify(trimmed)}: use ${Object.keys(MACROS).join(", ")}`,
    );
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6)
    throw new InvalidScheduleError(
      `cron expression ${JSON.stringify(text)} has ${fields.length} fields: give 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`,
    );
  const hasSeconds = fields.length === 6;
  const [sec, min, hour, dom, month, dow] = hasSeconds ? fields : ["0", ...fields];
  const daysOfWeek = new Set([...parseField(dow!, DAY_OF_WEEK)].map((d) => d % 7));
  const expression: CronExpression = {
    source: trimmed,
    hasSeconds,
    seconds: [...parseField(sec!, SECOND)].sort((a, b) => a - b),
    minutes: [...parseField(min!, MINUTE)].sort((a, b) => a - b),
    hours: [...parseField(hour!, HOUR)].sort((a, b) => a - b),
    daysOfMonth: parseField(dom!, DAY_OF_MONTH),
    months: parseField(month!, MONTH),
    daysOfWeek,
    eitherDay: !dom!.startsWith("*") && !dow!.startsWith("*"),
  };
  if (nextCronTime(expression, 0) === undefined)
    throw new InvalidScheduleError(`cron expression ${JSON.stringify(text)} never matches a date`);
  return Object.freeze(expression);
}

function parseField(text: string, field: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    if (part === "") throw fieldError(field, text, "an empty list item");
    const [range, stepText, ...rest] = part.split("/");
    if (rest.length > 0) throw fieldError(field, text, `more than one "/" in ${part}`);
    const step = stepText === undefined ? 1 : parseNumber(stepText, field, text);
    if (step < 1) throw fieldError(field, text, `a step of ${step}`);
    let low: number;
    let high: number;
    if (range === "*") {
      low = field.min;
      high = field.max;
    } else if (range!.includes("-")) {
      const [a, b, ...more] = range!.split("-");
      if (more.length > 0 || a === undefined || b === undefined)
        throw fieldError(field, text, `a malformed range ${range}`);
      low = parseValue(a, field, text);
      high = parseValue(b, field, text);
      if (low > high) throw fieldError(field, text, `a range ${range} that runs backwards`);
    } else {
      low = parseValue(range!, field, text);
      // `a/n` runs from a to the field's end, as in Vixie cron.
      high = stepText === undefined ? low : field.max;
    }
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

function parseValue(text: string, field: FieldSpec, whole: string): number {
  const byName = field.names?.indexOf(text.toUpperCase()) ?? -1;
  // Month names count from 1, weekday names from 0 (Sunday).
  if (byName >= 0) return field === MONTH ? byName + 1 : byName;
  const value = parseNumber(text, field, whole);
  if (value < field.min || value > field.max)
    throw fieldError(field, whole, `${value} outside ${field.min}-${field.max}`);
  return value;
}

function parseNumber(text: string, field: FieldSpec, whole: string): number {
  if (!/^\d{1,4}$/.test(text))
    throw fieldError(field, whole, `${JSON.stringify(text)} is not a number`);
  return Number(text);
}

function fieldError(field: FieldSpec, text: string, what: string): InvalidScheduleError {
  return new InvalidScheduleError(`cron ${field.name} field ${JSON.stringify(text)}: ${what}`);
}

/**
 * The first time strictly after `afterMs` (epoch ms, UTC) that the expression matches, or
 * undefined when none comes within twelve years (only for an expression that never matches,
 * which `parseCron` refuses).
 */
export function nextCronTime(cron: CronExpression, afterMs: number): number | undefined {
  // Matches fall on whole seconds: start at the first whole second after `afterMs`.
  const from = Math.floor(afterMs / 1000) * 1000 + 1000;
  const start = new Date(from);
  let dayStart = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  let floor: TimeOfDay | undefined = {
    hour: start.getUTCHours(),
    minute: start.getUTCMinutes(),
    second: start.getUTCSeconds(),
  };
  for (let i = 0; i < SEARCH_DAYS; i++, dayStart += DAY_MS, floor = undefined) {
    const day = new Date(dayStart);
    if (!cron.months.has(day.getUTCMonth() + 1)) continue;
    if (!dayMatches(cron, day.getUTCDate(), day.getUTCDay())) continue;
    const time = firstTimeOfDay(cron, floor);
    if (time !== undefined)
      return dayStart + time.hour * 3_600_000 + time.minute * 60_000 + time.second * 1000;
  }
  return undefined;
}

function dayMatches(cron: CronExpression, dayOfMonth: number, dayOfWeek: number): boolean {
  const byMonth = cron.daysOfMonth.has(dayOfMonth);
  const byWeek = cron.daysOfWeek.has(dayOfWeek);
  return cron.eitherDay ? byMonth || byWeek : byMonth && byWeek;
}

interface TimeOfDay {
  hour: number;
  minute: number;
  second: number;
}

/** The first allowed time of a day at or after `floor` (undefined: from midnight). */
function firstTimeOfDay(cron: CronExpression, floor: TimeOfDay | undefined): TimeOfDay | undefined {
  for (const hour of cron.hours) {
    if (floor !== undefined && hour < floor.hour) continue;
    const sameHour = floor !== undefined && hour === floor.hour;
    for (const minute of cron.minutes) {
      if (sameHour && minute < floor.minute) continue;
      const sameMinute = sameHour && minute === floor.minute;
      for (const second of cron.seconds) {
        if (sameMinute && second < floor.second) continue;
        return { hour, minute, second };
      }
    }
  }
  return undefined;
}
