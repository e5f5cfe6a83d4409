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
      .description("print a run's history as the projector stored it (--json: every event whole)")
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

/** The body without what repeats or is long: type, input and retry policy. */
function summary(body: Record<string, unknown>): string {
  const { type: _type, input: _input, retryPolicy: _policy, ...rest } = body;
  return cut(JSON.stringify(rest), 120);
}
