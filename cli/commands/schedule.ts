import type { Command } from "commander";
import { parseJsonOption, print } from "../output";
import { fields, json, table, time } from "../tables";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";
import { InvalidScheduleError } from "../../core/errors";
import { OVERLAP_POLICIES } from "../../workflow/schedules/spec";

const SCHEDULE_FIELDS = `name workflowId status spec workflowType input overlap catchupWindowMs paused note
  nextTicks handledUntil runsStarted ticksSkipped ticksMissed buffered recentRuns { tick workflowId }
  lastError createdAt`;

const CREATE = `mutation ($name: String!, $spec: ScheduleSpecInput!, $workflowType: String!, $input: JSON, $overlap: OverlapPolicy, $catchupWindowMs: Int, $paused: Boolean, $note: String) {
  createSchedule(name: $name, spec: $spec, workflowType: $workflowType, input: $input, overlap: $overlap, catchupWindowMs: $catchupWindowMs, paused: $paused, note: $note) { name workflowId }
}`;
const UPDATE = `mutation ($name: String!, $spec: ScheduleSpecInput, $workflowType: String, $input: JSON, $overlap: OverlapPolicy, $catchupWindowMs: Int, $note: String) {
  updateSchedule(name: $name, spec: $spec, workflowType: $workflowType, input: $input, overlap: $overlap, catchupWindowMs: $catchupWindowMs, note: $note) { name workflowId }
}`;
const DESCRIBE = `query ($name: String!) { schedule(name: $name) { ${SCHEDULE_FIELDS} } }`;
const LIST = `query ($first: Int) { schedules(first: $first) { ${SCHEDULE_FIELDS} } }`;
const SIGNALS = {
  pause: "pauseSchedule",
  resume: "resumeSchedule",
  delete: "deleteSchedule",
} as const;

interface ScheduleView {
  name: string;
  workflowId: string;
  status: string;
  spec: { cron?: string; everyMs?: number; offsetMs?: number } | null;
  workflowType: string | null;
  input: unknown;
  overlap: string | null;
  catchupWindowMs: number | null;
  paused: boolean;
  note: string | null;
  nextTicks: string[];
  handledUntil: string | null;
  runsStarted: number;
  ticksSkipped: number;
  ticksMissed: number;
  buffered: string | null;
  recentRuns: { tick: string; workflowId: string }[];
  lastError: string | null;
  createdAt: string;
}

type SpecOptions = { cron?: string; every?: string; offset?: string };
type DefinitionOptions = ApiCliOptions &
  SpecOptions & {
    type?: string;
    input?: string;
    overlap?: string;
    catchupWindow?: string;
    paused?: boolean;
    note?: string;
  };

function specOf(opts: SpecOptions, required: boolean): Record<string, unknown> | undefined {
  if (opts.cron !== undefined && opts.every !== undefined)
    throw new InvalidScheduleError("give --cron or --every, not both");
  if (opts.cron !== undefined) return { cron: opts.cron };
  if (opts.every !== undefined)
    return {
      everyMs: intOption(opts.every, "--every"),
      offsetMs: opts.offset === undefined ? 0 : intOption(opts.offset, "--offset", 0),
    };
  if (required) throw new InvalidScheduleError("a schedule needs --cron <expr> or --every <ms>");
  return undefined;
}

function overlapOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!(OVERLAP_POLICIES as readonly string[]).includes(text))
    throw new InvalidScheduleError(`--overlap ${text} is none of ${OVERLAP_POLICIES.join(", ")}`);
  return text.toUpperCase();
}

function specText(spec: ScheduleView["spec"]): string {
  if (!spec) return "-";
  if (spec.cron !== undefined) return `cron ${spec.cron} (UTC)`;
  return `every ${spec.everyMs} ms${spec.offsetMs ? ` from +${spec.offsetMs} ms` : ""}`;
}

function describeText(s: ScheduleView): string {
  const head = fields([
    ["name", s.name],
    ["run", `${s.workflowId} (${s.status})`],
    ["spec", specText(s.spec)],
    ["starts", s.workflowType ?? "-"],
    ["input", json(s.input)],
    ["overlap", s.overlap?.toLowerCase() ?? "-"],
    ["catch-up window", s.catchupWindowMs === null ? "-" : `${s.catchupWindowMs} ms`],
    ["paused", s.paused ? "yes" : "no"],
    ["note", s.note ?? undefined],
    ["created", time(s.createdAt)],
    ["handled until", time(s.handledUntil)],
    ["runs started", String(s.runsStarted)],
    ["ticks skipped", String(s.ticksSkipped)],
    ["ticks missed", String(s.ticksMissed)],
    ["buffered tick", s.buffered ? time(s.buffered) : undefined],
    ["last error", s.lastError ?? undefined],
  ]);
  const next = s.nextTicks.length > 0 ? s.nextTicks.map(time).join("\n") : "(paused or none)";
  const recent = table(s.recentRuns, [
    { header: "TICK", value: (r) => time(r.tick) },
    { header: "RUN", value: (r) => r.workflowId },
  ]);
  return `${head}\n\nnext ticks:\n${next}\n\nrecent runs:\n${recent}`;
}

/** `weft schedule …`: schedules through the GraphQL API (WEFT_API_URL or --api). */
export function registerSchedule(program: Command): void {
  const schedule = program
    .command("schedule")
    .description(
      "create, list, describe, pause, resume, update and delete schedules through the Weft API (WEFT_API_URL, WEFT_API_TOKEN)",
    );

  const definitionOptions = (command: Command) =>
    command
      .option("--cron <expr>", "cron expression in UTC: 5 fields, or 6 with seconds first")
      .option("--every <ms>", "tick every <ms> milliseconds (at least 1000)")
      .option("--offset <ms>", "with --every: ticks at this offset past each multiple")
      .option("--input <json>", "input of each run, as JSON")
      .option("--overlap <policy>", `while a run is open: ${OVERLAP_POLICIES.join(", ")}`)
      .option(
        "--catchup-window <ms>",
        "after downtime, start missed ticks up to this old (default 60000)",
      )
      .option("--note <text>", "what the schedule is for");

  apiOptions(
    definitionOptions(
      schedule
        .command("create")
        .description("make a schedule that starts a run of <type> at each tick")
        .argument("<name>", "the schedule's name: its run is schedule:<name>")
        .argument("<type>", "workflow type each tick starts")
        .option("--paused", "create it paused"),
    ),
  ).action((name: string, type: string, opts: DefinitionOptions) =>
    withApi(opts, async (client) => {
      const { createSchedule } = await client.request<{
        createSchedule: { name: string; workflowId: string };
      }>(CREATE, {
        name,
        workflowType: type,
        spec: specOf(opts, true),
        input: parseJsonOption(opts.input, "input"),
        overlap: overlapOf(opts.overlap),
        catchupWindowMs:
          opts.catchupWindow === undefined
            ? undefined
            : intOption(opts.catchupWindow, "--catchup-window"),
        paused: opts.paused === true,
        note: opts.note,
      });
      print(createSchedule, opts, () => createSchedule.workflowId);
    }),
  );

  apiOptions(
    definitionOptions(
      schedule
        .command("update")
        .description("change a schedule: what is given changes; a new spec ticks from now on")
        .argument("<name>")
        .option("--type <type>", "workflow type each tick starts"),
    ),
  ).action((name: string, opts: DefinitionOptions) =>
    withApi(opts, async (client) => {
      const { updateSchedule } = await client.request<{
        updateSchedule: { name: string; workflowId: string };
      }>(UPDATE, {
        name,
        spec: specOf(opts, false),
        workflowType: opts.type,
        input: opts.input === undefined ? undefined : parseJsonOption(opts.input, "input"),
        overlap: overlapOf(opts.overlap),
        catchupWindowMs:
          opts.catchupWindow === undefined
            ? undefined
            : intOption(opts.catchupWindow, "--catchup-window"),
        note: opts.note,
      });
      print(updateSchedule, opts, () => `updated ${updateSchedule.name}`);
    }),
  );

  for (const [verb, mutation] of Object.entries(SIGNALS)) {
    apiOptions(
      schedule
        .command(verb)
        .description(
          verb === "pause"
            ? "no tick starts a run until resumed (the ticks meanwhile are not caught up)"
            : verb === "resume"
              ? "resume a paused schedule"
              : "end the schedule (the runs it started go on)",
        )
        .argument("<name>"),
    ).action((name: string, opts: ApiCliOptions) =>
      withApi(opts, async (client) => {
        const answer = await client.request<Record<string, { name: string; workflowId: string }>>(
          `mutation ($name: String!) { ${mutation}(name: $name) { name workflowId } }`,
          { name },
        );
        print(answer[mutation], opts, () => `${verb}: ${name}`);
      }),
    );
  }

  apiOptions(
    schedule
      .command("list")
      .description("schedules that run now (not deleted), newest first")
      .option("--first <n>", "at most this many (default 50)"),
  ).action((opts: ApiCliOptions & { first?: string }) =>
    withApi(opts, async (client) => {
      const { schedules } = await client.request<{ schedules: ScheduleView[] }>(LIST, {
        first: opts.first === undefined ? 50 : intOption(opts.first, "--first"),
      });
      print(schedules, opts, () =>
        table(schedules, [
          { header: "NAME", value: (s) => s.name },
          { header: "SPEC", value: (s) => specText(s.spec) },
          { header: "STARTS", value: (s) => s.workflowType ?? "-" },
          { header: "OVERLAP", value: (s) => s.overlap?.toLowerCase() ?? "-" },
          { header: "PAUSED", value: (s) => (s.paused ? "yes" : "no") },
          { header: "NEXT TICK", value: (s) => time(s.nextTicks[0]) },
          { header: "RUNS", value: (s) => String(s.runsStarted), right: true },
        ]),
      );
    }),
  );

  apiOptions(
    schedule
      .command("describe")
      .description("a schedule's spec, policies, counts, next ticks and recent runs")
      .argument("<name>"),
  ).action((name: string, opts: ApiCliOptions) =>
    withApi(opts, async (client) => {
      const { schedule: found } = await client.request<{ schedule: ScheduleView | null }>(
        DESCRIBE,
        { name },
      );
      if (!found) throw new Error(`no schedule named ${name}`);
      print(found, opts, () => describeText(found));
    }),
  );
}
