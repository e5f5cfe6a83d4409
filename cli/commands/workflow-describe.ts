import type { Command } from "commander";
import { print } from "../output";
import { describeRunWaiting, errorMessage, notFound, RUN_FIELDS, type RunView } from "../runs";
import { duration, fields, json, oneLine, table, time } from "../tables";
import { apiOptions, withApi, type ApiCliOptions } from "./api-options";

const DESCRIBE = `query ($id: String!) {
  workflow(id: $id) {
    ${RUN_FIELDS} idempotencyKey updatedAt state parentId
    children(first: 500) { id status }
    steps { stepSeq attempt stepName taskQueue status workerId timeoutMs scheduledAt startedAt finishedAt durationMs error result logs { level message fields at } logsDropped }
    timers { kind seq attempt dueAt firedAt status }
    signals { seq name payload requestId receivedAt waitSeq }
  }
}`;

interface Step {
  stepSeq: number;
  attempt: number;
  stepName: string;
  taskQueue: string;
  status: string;
  workerId: string | null;
  durationMs: number | null;
  error: unknown;
  logs: StepLogLine[];
}
export interface StepLogLine {
  level: string;
  message: string;
  fields: unknown;
  at: string;
}
interface Timer {
  kind: string;
  seq: number;
  attempt: number;
  dueAt: string;
  firedAt: string | null;
  status: string;
}
interface Signal {
  seq: number;
  name: string;
  payload: unknown;
  receivedAt: string;
  waitSeq: number | null;
}
/** A child run as describe lists it. */
export interface ChildView {
  id: string;
  status: string;
}
interface Described extends RunView {
  idempotencyKey: string | null;
  parentId: string | null;
  children: ChildView[];
  /** What the run last published with ctx.setState; null when it set none. */
  state: unknown;
  updatedAt: string;
  steps: Step[];
  timers: Timer[];
  signals: Signal[];
}

export function registerWorkflowDescribe(workflow: Command): void {
  apiOptions(
    workflow
      .command("describe")
      .description(
        "show a run: status, times, input, result or error, its state (ctx.setState), what it waits on now, its steps (with what each attempt logged), timers and signals",
      )
      .argument("<workflowId>"),
  ).action((workflowId: string, opts: ApiCliOptions) =>
    withApi(opts, async (client) => {
      const { workflow: run } = await client.request<{ workflow: Described | null }>(DESCRIBE, {
        id: workflowId,
      });
      if (!run) throw notFound(workflowId);
      print(run, opts, () => render(run));
    }),
  );
}

function render(run: Described): string {
  const took = run.closedAt ? Date.parse(run.closedAt) - Date.parse(run.startedAt) : undefined;
  const summary = fields([
    ["workflow", run.id],
    ["type", run.type],
    ["status", run.status],
    ["started", time(run.startedAt)],
    ["closed", run.closedAt ? `${time(run.closedAt)} (took ${duration(took)})` : undefined],
    ["idempotency", run.idempotencyKey ?? undefined],
    ["parent", run.parentId ?? undefined],
    ["children", describeChildren(run.children)],
    ["input", json(run.input, 200)],
    ["result", run.status === "COMPLETED" ? json(run.result, 200) : undefined],
    ["error", run.error != null ? errorMessage(run.error) : undefined],
    [
      "blocked",
      run.status === "BLOCKED"
        ? `${run.blockedCode ?? "?"}: ${run.blockedReason ?? ""}`
        : undefined,
    ],
    ["state", run.state != null ? json(run.state, 200) : undefined],
    ["waiting on", run.closedAt ? undefined : describeRunWaiting(run)],
    ["events", String(run.lastSeq)],
  ]);
  const steps = table(run.steps, [
    { header: "SEQ", value: (s) => String(s.stepSeq), right: true },
    { header: "ATTEMPT", value: (s) => String(s.attempt), right: true },
    { header: "NAME", value: (s) => s.stepName },
    { header: "QUEUE", value: (s) => s.taskQueue },
    { header: "STATUS", value: (s) => s.status },
    { header: "WORKER", value: (s) => s.workerId ?? "-" },
    { header: "DURATION", value: (s) => duration(s.durationMs), right: true },
    { header: "ERROR", value: (s) => (s.error != null ? errorMessage(s.error) : "") },
  ]);
  const timers = table(run.timers, [
    { header: "SEQ", value: (t) => String(t.seq), right: true },
    { header: "KIND", value: (t) => t.kind },
    { header: "ATTEMPT", value: (t) => String(t.attempt), right: true },
    { header: "DUE", value: (t) => time(t.dueAt) },
    { header: "FIRED", value: (t) => time(t.firedAt) },
    { header: "STATUS", value: (t) => t.status },
  ]);
  const signals = table(run.signals, [
    { header: "SEQ", value: (s) => String(s.seq), right: true },
    { header: "NAME", value: (s) => s.name },
    { header: "RECEIVED", value: (s) => time(s.receivedAt) },
    { header: "TAKEN BY", value: (s) => (s.waitSeq === null ? "(buffered)" : `#${s.waitSeq}`) },
    { header: "PAYLOAD", value: (s) => json(s.payload, 60) },
  ]);
  const logs = renderStepLogs(run.steps);
  return `${summary}\n\nsteps\n${steps}\n\nstep logs\n${logs}\n\ntimers\n${timers}\n\nsignals\n${signals}`;
}

/**
 * A run's children in one line: how many, by status (in the order first seen), and the first
 * few IDs; undefined without children. `--json` has them all.
 */
export function describeChildren(children: readonly ChildView[]): string | undefined {
  if (children.length === 0) return undefined;
  const byStatus = new Map<string, number>();
  for (const child of children) byStatus.set(child.status, (byStatus.get(child.status) ?? 0) + 1);
  const counts = [...byStatus].map(([status, n]) => `${n} ${status}`).join(", ");
  const shown = children.slice(0, 3).map((c) => c.id);
  const more = children.length > shown.length ? ", …" : "";
  return `${children.length} (${counts}): ${shown.join(", ")}${more}`;
}

/**
 * What each attempt logged (step.log.*), under a line naming the attempt: one line each, time,
 * level, message and fields, a field-less line without braces. `--json` has them whole.
 */
export function renderStepLogs(
  steps: readonly Pick<Step, "stepSeq" | "attempt" | "stepName" | "logs">[],
): string {
  const logged = steps.filter((s) => s.logs.length > 0);
  if (logged.length === 0) return "(none)";
  return logged
    .map((s) => {
      const lines = s.logs.map((l) => {
        const extra = l.fields == null ? "" : `  ${json(l.fields, 200)}`;
        return `  ${time(l.at)}  ${l.level.toUpperCase().padEnd(5)}  ${oneLine(l.message)}${extra}`;
      });
      return [`#${s.stepSeq} ${s.stepName}, attempt ${s.attempt}`, ...lines].join("\n");
    })
    .join("\n");
}
