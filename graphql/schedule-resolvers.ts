/**
 * Resolvers of ./schedule-schema: the mutations go through the same ScheduleClient as the SDK's
 * (a start of `weft.schedule`, or a signal to its run, checked as any signal is); the queries
 * read the schedule runs' rows and the state each published.
 */
import type { IResolvers } from "mercurius";
import type { Logger } from "../core/logger";
import type { CommandProducer } from "../producers/command-producer";
import { CLOSED_STATUSES } from "../core/run-lifecycle";
import { sendToRun, type RunCheckOptions, type RunView } from "../producers/run-check";
import { signalWorkflowCommand, startWorkflowCommand } from "../producers/workflow-commands";
import type { ReadModelDb } from "../projections/read-model-db";
import { ScheduleClient } from "../sdk/schedules";
import type { ScheduleState } from "../workflow/schedules/schedule-workflow";
import {
  SCHEDULE_WORKFLOW_TYPE,
  assertScheduleName,
  scheduleWorkflowId,
  type OverlapPolicy,
  type ScheduleDefinition,
  type SchedulePatch,
  type ScheduleSpec,
} from "../workflow/schedules/spec";
import { InvalidScheduleError } from "../core/errors";
import { withErrorCodes } from "./api-errors";
import { checkStartable, iso } from "./registry-resolvers";
import { findRun, type RunRow } from "./run-queries";

export interface ScheduleResolverDeps {
  db: ReadModelDb;
  commands: Pick<CommandProducer, "send" | "partitionEnd" | "partitionFor">;
  runs: RunView;
  runCheck?: RunCheckOptions;
  log: Logger;
}

const MAX_SCHEDULES_PAGE = 500;
const OVERLAP: Record<string, OverlapPolicy> = { SKIP: "skip", BUFFER: "buffer", ALLOW: "allow" };

interface SpecArg {
  cron?: string | null;
  everyMs?: number | null;
  offsetMs?: number | null;
}

interface DefinitionArgs {
  name: string;
  spec?: SpecArg | null;
  workflowType?: string | null;
  input?: unknown;
  overlap?: string | null;
  catchupWindowMs?: number | null;
  paused?: boolean | null;
  note?: string | null;
}

function specOf(arg: SpecArg): ScheduleSpec {
  if (arg.cron !== undefined && arg.cron !== null) {
    if (arg.everyMs !== undefined && arg.everyMs !== null)
      throw new InvalidScheduleError("a spec has either cron or everyMs, not both");
    return { cron: arg.cron };
  }
  if (arg.everyMs === undefined || arg.everyMs === null)
    throw new InvalidScheduleError("a spec needs cron or everyMs");
  return { everyMs: arg.everyMs, offsetMs: arg.offsetMs ?? 0 };
}

/** A row of a schedule run and its published state, as the Schedule type resolves it. */
interface ScheduleSource {
  row: RunRow;
  state: Partial<ScheduleState> | null;
}

function sourceOf(row: RunRow): ScheduleSource {
  const state = row.state;
  return {
    row,
    state: typeof state === "object" && state !== null ? state : null,
  };
}

export function createScheduleResolvers(deps: ScheduleResolverDeps): IResolvers {
  const { db, commands, runs, runCheck, log } = deps;
  const client = new ScheduleClient({
    start: async (type, options) => {
      await checkStartable(db, type);
      // The target type must be known too: a schedule of a typo would fail at every tick.
      await checkStartable(db, options.input.schedule.workflowType);
      const command = startWorkflowCommand(type, options);
      await commands.send(command);
      return { workflowId: command.workflowId };
    },
    signal: async (workflowId, name, payload) => {
      const command = signalWorkflowCommand(workflowId, name, payload);
      const check = await sendToRun(runs, commands, command, runCheck);
      if (check.kind === "unconfirmed")
        log.info({ workflowId }, "the read models are behind: schedule signal sent unconfirmed");
      return { workflowId, requestId: command.body.requestId };
    },
    getState: async (workflowId) => (await findRun(db, workflowId))?.state as never,
  });

  return {
    Query: {
      schedule: (_root, args: { name: string }) =>
        withErrorCodes(async () => {
          const row = await findRun(db, scheduleWorkflowId(assertScheduleName(args.name)));
          return row && row.workflow_type === SCHEDULE_WORKFLOW_TYPE ? sourceOf(row) : null;
        }),
      schedules: (_root, args: { first: number }) =>
        withErrorCodes(async () => {
          const first = Math.min(Math.max(args.first, 1), MAX_SCHEDULES_PAGE);
          const rows = await db.db
            .selectFrom("weft_runs")
            .selectAll()
            .where("workflow_type", "=", SCHEDULE_WORKFLOW_TYPE)
            .where("status", "not in", [...CLOSED_STATUSES])
            .orderBy("started_at", "desc")
            .limit(first)
            .execute();
          return rows.map((row) => sourceOf(row as RunRow));
        }),
    },
    Mutation: {
      createSchedule: (_root, args: DefinitionArgs) =>
        withErrorCodes(() => {
          const definition: ScheduleDefinition = {
            name: args.name,
            spec: specOf(args.spec ?? {}),
            workflowType: args.workflowType ?? "",
            input: args.input ?? undefined,
            overlap: OVERLAP[args.overlap ?? "SKIP"],
            catchupWindowMs: args.catchupWindowMs ?? undefined,
            paused: args.paused ?? false,
            note: args.note ?? undefined,
          };
          return client.create(definition);
        }),
      pauseSchedule: (_root, args: { name: string }) =>
        withErrorCodes(() => client.pause(args.name)),
      resumeSchedule: (_root, args: { name: string }) =>
        withErrorCodes(() => client.resume(args.name)),
      deleteSchedule: (_root, args: { name: string }) =>
        withErrorCodes(() => client.delete(args.name)),
      updateSchedule: (_root, args: DefinitionArgs) =>
        withErrorCodes(async () => {
          const patch: SchedulePatch = {};
          if (args.spec) patch.spec = specOf(args.spec);
          if (args.workflowType) {
            // As on create: a type no decider registered would fail at every tick.
            await checkStartable(db, args.workflowType);
            patch.workflowType = args.workflowType;
          }
          if (args.input !== undefined) patch.input = args.input;
          if (args.overlap) patch.overlap = OVERLAP[args.overlap];
          if (args.catchupWindowMs !== undefined && args.catchupWindowMs !== null)
            patch.catchupWindowMs = args.catchupWindowMs;
          if (args.note !== undefined) patch.note = args.note;
          return client.update(args.name, patch);
        }),
    },
    Schedule: {
      name: (s: ScheduleSource) =>
        s.state?.schedule?.name ?? s.row.workflow_id.slice("schedule:".length),
      workflowId: (s: ScheduleSource) => s.row.workflow_id,
      status: (s: ScheduleSource) => s.row.status.toUpperCase(),
      spec: (s: ScheduleSource) => s.state?.schedule?.spec ?? null,
      workflowType: (s: ScheduleSource) => s.state?.schedule?.workflowType ?? null,
      input: (s: ScheduleSource) => s.state?.schedule?.input ?? null,
      overlap: (s: ScheduleSource) => s.state?.schedule?.overlap?.toUpperCase() ?? null,
      catchupWindowMs: (s: ScheduleSource) => s.state?.schedule?.catchupWindowMs ?? null,
      paused: (s: ScheduleSource) => s.state?.schedule?.paused ?? false,
      note: (s: ScheduleSource) => s.state?.schedule?.note ?? null,
      nextTicks: (s: ScheduleSource) => s.state?.nextTicks ?? [],
      handledUntil: (s: ScheduleSource) => s.state?.handledUntil ?? null,
      runsStarted: (s: ScheduleSource) => s.state?.runsStarted ?? 0,
      ticksSkipped: (s: ScheduleSource) => s.state?.ticksSkipped ?? 0,
      ticksMissed: (s: ScheduleSource) => s.state?.ticksMissed ?? 0,
      buffered: (s: ScheduleSource) => s.state?.buffered ?? null,
      recentRuns: (s: ScheduleSource) => s.state?.recentRuns ?? [],
      lastError: (s: ScheduleSource) => s.state?.lastError ?? null,
      createdAt: (s: ScheduleSource) => iso(s.row.started_at),
    },
  } as IResolvers;
}
