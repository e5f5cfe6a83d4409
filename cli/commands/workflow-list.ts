import type { Command } from "commander";
import { print } from "../output";
import type { RunStatus } from "../runs";
import { table, time } from "../tables";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";

const LIST = `query ($filter: WorkflowFilter, $first: Int, $after: String) {
  workflows(filter: $filter, first: $first, after: $after) {
    nodes { id type status startedAt closedAt }
    pageInfo { endCursor hasNextPage }
  }
}`;

interface Page {
  nodes: {
    id: string;
    type: string;
    status: RunStatus;
    startedAt: string;
    closedAt: string | null;
  }[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
}

interface ListOptions extends ApiCliOptions {
  status?: string;
  type?: string;
  from?: string;
  to?: string;
  text?: string;
  first: string;
  after?: string;
}

export function registerWorkflowList(workflow: Command): void {
  apiOptions(
    workflow
      .command("list")
      .description("list runs, newest first, one page at a time")
      .option("--status <status>", "running, blocked, completed, failed or cancelled")
      .option("--type <type>", "workflow type")
      .option("--from <time>", "started at or after this ISO-8601 time")
      .option("--to <time>", "started before this ISO-8601 time")
      .option("--text <text>", "a substring of the workflow ID or type")
      .option("--first <n>", "runs per page (up to 100)", "20")
      .option("--after <cursor>", "the page after this cursor (printed under the previous page)"),
  ).action((opts: ListOptions) =>
    withApi(opts, async (client) => {
      const filter = {
        status: opts.status?.toUpperCase(),
        type: opts.type,
        from: opts.from,
        to: opts.to,
        text: opts.text,
      };
      const { workflows: page } = await client.request<{ workflows: Page }>(LIST, {
        filter,
        first: intOption(opts.first, "--first"),
        after: opts.after,
      });
      print(page, opts, () => {
        const rows = table(
          page.nodes,
          [
            { header: "ID", value: (r) => r.id },
            { header: "TYPE", value: (r) => r.type },
            { header: "STATUS", value: (r) => r.status },
            { header: "STARTED", value: (r) => time(r.startedAt) },
            { header: "CLOSED", value: (r) => time(r.closedAt) },
          ],
          "no runs match",
        );
        return page.pageInfo.hasNextPage && page.pageInfo.endCursor
          ? `${rows}\n\nnext page: --after ${page.pageInfo.endCursor}`
          : rows;
      });
    }),
  );
}
