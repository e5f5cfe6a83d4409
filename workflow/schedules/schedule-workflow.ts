/**
 * A schedule is a run of the built-in workflow `weft.schedule` under the workflow ID
 * `schedule:<name>`. Its state, timers and exactly-once come from the engine itself: it
 * computes its next tick, waits for it with a durable timer, and starts the tick's run through
 * a step, under a workflow ID derived from the tick (`<name>:<tick ISO time>`). A step's result
 * is applied once and a start with an ID already taken is a duplicate, so each tick makes one
 * run however often a decider or worker dies on the way. Pause, resume, update and delete are
 * signals to it; it publishes what it knows (next ticks, recent runs, counts) with
 * `ctx.setState`, which the read models keep as the run's state.
 *
 * Runs inside replay: no I/O here. The two steps it calls (start a run; is a run open) are
 * hosted by workers (producers/schedule-steps.ts).
 */
import { defineWorkflow, type WorkflowContext } from "../definitions";
import type { RetryPolicy } from "../../core/retry";
import {
  SCHEDULE_WORKFLOW_TYPE,
  compileSpec,
  normalizeSchedule,
  patchSchedule,
  tickWorkflowId,
  upcomingTicks,
  type ScheduleConfig,
  type SchedulePatch,
  type TickClock,
} from "./spec";

export const START_RUN_STEP = "weft.schedule.startRun";
export const RUN_OPEN_STEP = "weft.schedule.runOpen";

/** The signals a schedule's run takes. */
export const ScheduleSignals = {
  pause: "pause",
  resume: "resume",
  update: "update",
  delete: "delete",
} as const;

export interface StartRunInput {
  workflowType: string;
  workflowId: string;
  input: unknown;
}

export interface RunOpenInput {
  workflowId: string;
}

/** What the schedule carries from one run to the next when it continues as new. */
export interface ScheduleProgress {
  /** Every tick up to here was handled: started, skipped, buffered or missed. */
  lastTickMs: number;
  runsStarted: number;
  ticksSkipped: number;
  ticksMissed: number;
  /** A tick kept under the `buffer` policy until the open run closes. */
  bufferedMs: number | null;
  /** The run of the latest started tick: what overlap is judged against. */
  lastRunId: string | null;
  recentRuns: { tick: string; workflowId: string }[];
  lastError: string | null;
}

export interface ScheduleInput {
  schedule: ScheduleConfig;
  progress?: ScheduleProgress;
}

/** The run's state (`ctx.setState`): what GraphQL, the CLI and the dashboard show. */
export interface ScheduleState extends Omit<ScheduleProgress, "bufferedMs" | "lastTickMs"> {
  schedule: ScheduleConfig;
  /** Up to five coming ticks (ISO-8601); empty while paused. */
  nextTicks: string[];
  /** Every tick up to this time was handled (at first: when the schedule was made). */
  handledUntil: string;
  buffered: string | null;
  deleted: boolean;
}

/** What the run returns when the schedule is deleted. */
export type ScheduleSummary = Pick<
  ScheduleProgress,
  "runsStarted" | "ticksSkipped" | "ticksMissed"
> & { deleted: true };

const NEXT_TICKS_SHOWN = 5;
const RECENT_RUNS_KEPT = 10;
/** Ticks started in one decision at most: a long catch-up goes in slices, its state published. */
const TICKS_PER_WAKE = 50;
/** Ticks older than the catch-up window counted one by one at most per wake-up. */
const MISSED_COUNTED_PER_WAKE = 10_000;
/** How often a buffered tick asks whether the open run has closed. */
export const BUFFER_POLL_MS = 5000;
/** Keeps the schedule's replays short: each tick adds a handful of events. */
const CONTINUE_AS_NEW_AFTER = 500;

const START_RETRY: RetryPolicy = {
  maximumAttempts: 30,
  backoff: "exponential",
  initialIntervalMs: 1000,
  maximumIntervalMs: 60_000,
};
const LOOKUP_RETRY: RetryPolicy = { maximumAttempts: 5, initialIntervalMs: 1000 };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runSchedule(ctx: WorkflowContext, input: ScheduleInput): Promise<ScheduleSummary> {
  let config = normalizeSchedule(input.schedule);
  let clock: TickClock = compileSpec(config.spec);
  const progress: ScheduleProgress = input.progress ?? {
    // Ticks strictly after the schedule was made.
    lastTickMs: ctx.now(),
    runsStarted: 0,
    ticksSkipped: 0,
    ticksMissed: 0,
    bufferedMs: null,
    lastRunId: null,
    recentRuns: [],
    lastError: null,
  };
  let woken = false;
  let deleted = false;

  // Ticks that passed while paused, or under the old spec, are not caught up.
  const restartFromNow = () => {
    progress.lastTickMs = Math.max(progress.lastTickMs, ctx.now());
  };
  ctx.onSignal(ScheduleSignals.pause, () => {
    config = { ...config, paused: true };
    woken = true;
  });
  ctx.onSignal(ScheduleSignals.resume, () => {
    if (config.paused) restartFromNow();
    config = { ...config, paused: false };
    woken = true;
  });
  ctx.onSignal<SchedulePatch>(ScheduleSignals.update, (patch) => {
    // The front ends validate an update before sending it; one that still does not fit is
    // reported in the state rather than failing the schedule.
    try {
      const next = patchSchedule(config, patch);
      if (JSON.stringify(next.spec) !== JSON.stringify(config.spec)) restartFromNow();
      if (config.paused && !next.paused) restartFromNow();
      config = next;
      clock = compileSpec(config.spec);
    } catch (err) {
      progress.lastError = `update refused: ${message(err)}`;
    }
    woken = true;
  });
  ctx.onSignal(ScheduleSignals.delete, () => {
    deleted = true;
    woken = true;
  });

  const publish = () => {
    const { bufferedMs, lastTickMs, ...rest } = progress;
    const state: ScheduleState = {
      ...rest,
      recentRuns: [...rest.recentRuns],
      schedule: config,
      nextTicks:
        config.paused || deleted ? [] : upcomingTicks(clock, lastTickMs, NEXT_TICKS_SHOWN).map(iso),
      handledUntil: iso(lastTickMs),
      buffered: bufferedMs === null ? null : iso(bufferedMs),
      deleted,
    };
    ctx.setState(state);
  };

  const runOpen = async (workflowId: string): Promise<boolean> => {
    try {
      const answer = await ctx.step<{ open: boolean }>(
        RUN_OPEN_STEP,
        { workflowId } satisfies RunOpenInput,
        { retry: LOOKUP_RETRY },
      );
      return answer.open;
    } catch (err) {
      // Not knowing counts as open: skipping a tick is safer than overlapping against policy.
      progress.lastError = `could not tell whether ${workflowId} is open: ${message(err)}`;
      return true;
    }
  };

  const start = async (tickMs: number): Promise<void> => {
    const workflowId = tickWorkflowId(config.name, tickMs);
    try {
      await ctx.step(
        START_RUN_STEP,
        {
          workflowType: config.workflowType,
          workflowId,
          input: config.input,
        } satisfies StartRunInput,
        { retry: START_RETRY },
      );
      progress.runsStarted++;
      progress.lastRunId = workflowId;
      progress.recentRuns.push({ tick: iso(tickMs), workflowId });
      if (progress.recentRuns.length > RECENT_RUNS_KEPT) progress.recentRuns.shift();
    } catch (err) {
      progress.lastError = `tick ${iso(tickMs)}: the run could not be started: ${message(err)}`;
    }
  };

  /** Handles the ticks due by `now`, oldest first; at most TICKS_PER_WAKE started. */
  const handleDue = async (now: number): Promise<void> => {
    const oldestStarted = now - config.catchupWindowMs;
    const due: number[] = [];
    let counted = 0;
    let tick = clock.next(progress.lastTickMs);
    while (tick !== undefined && tick <= now && due.length < TICKS_PER_WAKE) {
      if (tick < oldestStarted) {
        progress.ticksMissed++;
        progress.lastTickMs = tick;
        // After a very long downtime, stop counting one by one: jump to the window.
        tick =
          ++counted >= MISSED_COUNTED_PER_WAKE ? clock.next(oldestStarted - 1) : clock.next(tick);
        continue;
      }
      due.push(tick);
      progress.lastTickMs = tick;
      tick = clock.next(tick);
    }
    let startedNow = false;
    for (const dueTick of due) {
      // A pause or delete that came while a step ran stops the batch: those ticks are dropped.
      if (deleted || config.paused) break;
      if (config.overlap !== "allow" && progress.lastRunId !== null) {
        // A run started in this same wake-up is taken as still open: no lookup for it.
        const open = startedNow || (await runOpen(progress.lastRunId));
        if (open) {
          if (config.overlap === "buffer" && progress.bufferedMs === null)
            progress.bufferedMs = dueTick;
          else progress.ticksSkipped++;
          continue;
        }
      }
      await start(dueTick);
      startedNow = true;
    }
  };

  for (;;) {
    publish();
    if (deleted) {
      const { runsStarted, ticksSkipped, ticksMissed } = progress;
      return { runsStarted, ticksSkipped, ticksMissed, deleted: true };
    }
    if (ctx.info.continueAsNewSuggested)
      return ctx.continueAsNew({ schedule: config, progress } satisfies ScheduleInput);
    woken = false;
    if (config.paused) {
      await ctx.condition(() => woken);
      continue;
    }
    if (progress.bufferedMs !== null && progress.lastRunId !== null) {
      if (!(await runOpen(progress.lastRunId))) {
        const buffered = progress.bufferedMs;
        progress.bufferedMs = null;
        await start(buffered);
        continue;
      }
    }
    const now = ctx.now();
    const next = clock.next(progress.lastTickMs);
    if (next === undefined) {
      await ctx.condition(() => woken);
      continue;
    }
    if (next > now) {
      const wakeAt = progress.bufferedMs === null ? next : Math.min(next, now + BUFFER_POLL_MS);
      await ctx.condition(() => woken, { timeoutMs: wakeAt - now });
      continue;
    }
    await handleDue(now);
  }
}

/** The built-in schedule workflow; deciders host it when schedules are on. */
export const scheduleWorkflow = defineWorkflow<ScheduleInput, ScheduleSummary>(
  SCHEDULE_WORKFLOW_TYPE,
  runSchedule,
  { continueAsNewAfter: CONTINUE_AS_NEW_AFTER },
);
