/**
 * What a schedule is: when it ticks (a cron expression or a fixed interval, in UTC), which
 * workflow each tick starts, and how it treats overlapping runs and ticks missed while nothing
 * ran. Validated once where a schedule is given (client, API, CLI) into a ScheduleConfig, which
 * is what the schedule's run carries as its input. Pure: the schedule workflow uses it in replay.
 */
import { InvalidScheduleError } from "../../core/errors";
import { nextCronTime, parseCron, type CronExpression } from "./cron";

/** The built-in workflow type a schedule runs as. */
export const SCHEDULE_WORKFLOW_TYPE = "weft.schedule";

/**
 * What a tick does while the run of an earlier tick is still open:
 * - `skip`: nothing (the tick is counted as skipped);
 * - `buffer`: keeps the tick (one; later ones are skipped) and starts its run once the open
 *   one has closed;
 * - `allow`: starts its run anyway.
 */
export const OVERLAP_POLICIES = ["skip", "buffer", "allow"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** When a schedule ticks: a cron expression (UTC), or every `everyMs` from `offsetMs` past the epoch. */
export type ScheduleSpec = { cron: string } | { everyMs: number; offsetMs?: number };

/** A schedule as a caller gives it. */
export interface ScheduleDefinition {
  /** Names the schedule: [A-Za-z0-9._-], 1–100 characters; its run is `schedule:<name>`. */
  name: string;
  spec: ScheduleSpec;
  /** The workflow type each tick starts. */
  workflowType: string;
  /** The input of each run (JSON). */
  input?: unknown;
  /** Default `skip`. */
  overlap?: OverlapPolicy;
  /**
   * After downtime (no decider ran the schedule), ticks missed by at most this long are still
   * started, each once, oldest first; older ones are counted as missed. Default 60,000 ms, at
   * least 1000 (a timer fires a little late even when nothing is down).
   */
  catchupWindowMs?: number;
  /** Created paused: no tick starts a run until it is resumed. */
  paused?: boolean;
  /** A line for people: what the schedule is for. */
  note?: string | null;
}

/** A validated definition, every option filled in. */
export interface ScheduleConfig {
  name: string;
  spec: ScheduleSpec;
  workflowType: string;
  input: unknown;
  overlap: OverlapPolicy;
  catchupWindowMs: number;
  paused: boolean;
  note: string | null;
}

/** What `update` may change (the name is the schedule's identity and stays). */
export type SchedulePatch = Partial<Omit<ScheduleDefinition, "name">>;

export const DEFAULT_CATCHUP_WINDOW_MS = 60_000;
export const MIN_CATCHUP_WINDOW_MS = 1000;
export const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 366 * 86_400_000;
const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const WORKFLOW_TYPE = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;
const MAX_NOTE_LENGTH = 1000;

/** The workflow ID of a schedule's own run. */
export function scheduleWorkflowId(name: string): string {
  return `schedule:${name}`;
}

/**
 * The workflow ID of the run a tick starts: the same for every try of that tick, so however
 * often its start is sent (a retried step, a decider that took over) the tick makes one run.
 */
export function tickWorkflowId(name: string, tickMs: number): string {
  return `${name}:${new Date(tickMs).toISOString()}`;
}

export function assertScheduleName(name: unknown): string {
  if (typeof name !== "string" || !SCHEDULE_NAME.test(name))
    throw new InvalidScheduleError(
      `schedule name ${JSON.stringify(name)} is invalid: 1–100 of [A-Za-z0-9._-], starting with a letter or digit`,
    );
  return name;
}

/** Validates a definition and fills in the defaults; throws InvalidScheduleError. */
export function normalizeSchedule(definition: ScheduleDefinition): ScheduleConfig {
  if (typeof definition !== "object" || definition === null)
    throw new InvalidScheduleError("a schedule must be an object");
  const config: ScheduleConfig = {
    name: assertScheduleName(definition.name),
    spec: normalizeSpec(definition.spec),
    workflowType: assertWorkflowType(definition.workflowType),
    input: definition.input ?? null,
    overlap: assertOverlap(definition.overlap ?? "skip"),
    catchupWindowMs: assertCatchupWindow(definition.catchupWindowMs ?? DEFAULT_CATCHUP_WINDOW_MS),
    paused: definition.paused ?? false,
    note: assertNote(definition.note),
  };
  if (typeof config.paused !== "boolean")
    throw new InvalidScheduleError("paused must be true or false");
  if (config.workflowType === SCHEDULE_WORKFLOW_TYPE)
    throw new InvalidScheduleError("a schedule cannot start schedules");
  return config;
}

/** The config after a patch, validated as a whole; throws InvalidScheduleError. */
export function patchSchedule(config: ScheduleConfig, patch: SchedulePatch): ScheduleConfig {
  if (typeof patch !== "object" || patch === null)
    throw new InvalidScheduleError("an update must be an object");
  const merged: ScheduleDefinition = { ...config };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "name") throw new InvalidScheduleError("a schedule's name cannot change");
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  return normalizeSchedule(merged);
}

function normalizeSpec(spec: unknown): ScheduleSpec {
  if (typeof spec !== "object" || spec === null)
    throw new InvalidScheduleError('a schedule needs a spec: { cron: "…" } or { everyMs: n }');
  const s = spec as Record<string, unknown>;
  if ("cron" in s && "everyMs" in s)
    throw new InvalidScheduleError("a spec has either cron or everyMs, not both");
  if (typeof s.cron === "string") {
    parseCron(s.cron);
    return { cron: s.cron.trim() };
  }
  if (s.everyMs !== undefined) {
    const everyMs = s.everyMs;
    if (
      !Number.isInteger(everyMs) ||
      (everyMs as number) < MIN_INTERVAL_MS ||
      (everyMs as number) > MAX_INTERVAL_MS
    )
      throw new InvalidScheduleError(
        `everyMs must be a whole number of ms from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}, got ${JSON.stringify(everyMs)}`,
      );
    const offsetMs = s.offsetMs ?? 0;
    if (
      !Number.isInteger(offsetMs) ||
      (offsetMs as number) < 0 ||
      (offsetMs as number) >= (everyMs as number)
    )
      throw new InvalidScheduleError(`offsetMs must be a whole number of ms from 0 to everyMs - 1`);
    return { everyMs: everyMs as number, offsetMs: offsetMs as number };
  }
  throw new InvalidScheduleError("a spec needs cron (a string) or everyMs (a number)");
}

function assertWorkflowType(type: unknown): string {
  if (typeof type !== "string" || !WORKFLOW_TYPE.test(type))
    throw new InvalidScheduleError(`workflow type ${JSON.stringify(type)} is not a workflow name`);
  return type;
}

function assertOverlap(overlap: unknown): OverlapPolicy {
  if (!OVERLAP_POLICIES.includes(overlap as OverlapPolicy))
    throw new InvalidScheduleError(
      `overlap policy ${JSON.stringify(overlap)} is none of ${OVERLAP_POLICIES.join(", ")}`,
    );
  return overlap as OverlapPolicy;
}

function assertCatchupWindow(ms: unknown): number {
  if (!Number.isInteger(ms) || (ms as number) < MIN_CATCHUP_WINDOW_MS)
    throw new InvalidScheduleError(
      `catchupWindowMs must be a whole number of ms, at least ${MIN_CATCHUP_WINDOW_MS}, got ${JSON.stringify(ms)}`,
    );
  return ms as number;
}

function assertNote(note: unknown): string | null {
  if (note === undefined || note === null) return null;
  if (typeof note !== "string" || note.length > MAX_NOTE_LENGTH)
    throw new InvalidScheduleError(`a note is a string of at most ${MAX_NOTE_LENGTH} characters`);
  return note;
}

/** A spec compiled once: the first tick strictly after a time. */
export interface TickClock {
  /** The first tick strictly after `afterMs`, or undefined when there is none. */
  next(afterMs: number): number | undefined;
}

export function compileSpec(spec: ScheduleSpec): TickClock {
  if ("cron" in spec) {
    const cron: CronExpression = parseCron(spec.cron);
    return { next: (afterMs) => nextCronTime(cron, afterMs) };
  }
  const { everyMs } = spec;
  const offsetMs = spec.offsetMs ?? 0;
  return {
    next: (afterMs) => (Math.floor((afterMs - offsetMs) / everyMs) + 1) * everyMs + offsetMs,
  };
}

/** The next `count` ticks after `afterMs`. */
export function upcomingTicks(clock: TickClock, afterMs: number, count: number): number[] {
  const ticks: number[] = [];
  let at = afterMs;
  while (ticks.length < count) {
    const next = clock.next(at);
    if (next === undefined) break;
    ticks.push(next);
    at = next;
  }
  return ticks;
}
