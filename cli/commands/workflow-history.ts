import type { Command } from "commander";
import { print } from "../output";
import { notFound } from "../runs";
import { cut, table, time } from "../tables";
import { apiOptions, withApi, type ApiCliOptions } from "./api-options";

const HISTORY = `query ($id: String!) { workflow(id: $id) { id events { seq type at body } } }`;

interface HistoryEvent {
  seq: number;
  type: string;
  at: string;
  body: Record<string, unknown>;
}

export function registerWorkflowHistory(workflow: Command): void {
  apiOptions(
    workflow
      .command("history")
      .description(
        "print a run's history as the projector stored it, times in ISO-8601 UTC (--json: every event whole, as recorded)",
      )
      .argument("<workflowId>"),
  ).action((workflowId: string, opts: ApiCliOptions) =>
    withApi(opts, async (client) => {
      const { workflow: run } = await client.request<{
        workflow: { id: string; events: HistoryEvent[] } | null;
      }>(HISTORY, { id: workflowId });
      if (!run) throw notFound(workflowId);
      print(run.events, opts, () =>
        table(run.events, [
          { header: "SEQ", value: (e) => String(e.seq), right: true },
          { header: "TIME", value: (e) => time(e.at) },
          { header: "TYPE", value: (e) => e.type },
          { header: "SUMMARY", value: (e) => summary(e.body) },
        ]),
      );
    }),
  );
}

/** Payloads the events carry as JSON text: shown as the JSON they hold. */
const JSON_TEXT_FIELDS = new Set(["result", "payload"]);

/**
 * The body without what repeats or is long (type, input and retry policy), its times (`dueAt`,
 * `startedAt`: epoch ms in the event) as ISO-8601 and its payloads as JSON.
 */
export function summary(body: Record<string, unknown>): string {
  const { type: _type, input: _input, retryPolicy: _policy, ...rest } = body;
  const shown = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [key, readable(key, value)]),
  );
  return cut(JSON.stringify(shown), 120);
}

function readable(key: string, value: unknown): unknown {
  if (key.endsWith("At") && typeof value === "number") return time(value);
  if (JSON_TEXT_FIELDS.has(key) && typeof value === "string") {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}
