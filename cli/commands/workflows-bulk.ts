import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import { InvalidInputError } from "../../core/errors";
import { print } from "../output";
import { table } from "../tables";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";
import { requestIdOption, sendRequest } from "./workflow-control";

const RESULT_FIELDS = `dryRun matched sample applied { workflowId requestId newWorkflowId error } remaining requestId`;
const TERMINATE = `mutation ($filter: WorkflowFilter!, $reason: String, $dryRun: Boolean, $limit: Int, $requestId: String) {
  terminateWorkflows(filter: $filter, reason: $reason, dryRun: $dryRun, limit: $limit, requestId: $requestId) { ${RESULT_FIELDS} }
}`;
const RERUN = `mutation ($filter: WorkflowFilter!, $dryRun: Boolean, $limit: Int, $requestId: String) {
  rerunWorkflows(filter: $filter, dryRun: $dryRun, limit: $limit, requestId: $requestId) { ${RESULT_FIELDS} }
}`;

const RESET = `mutation ($filter: WorkflowFilter!, $dryRun: Boolean, $limit: Int, $requestId: String) {
  resetWorkflows(filter: $filter, dryRun: $dryRun, limit: $limit, requestId: $requestId) { ${RESULT_FIELDS} }
}`;

interface BulkResult {
  dryRun: boolean;
  matched: number;
  sample: string[];
  applied: {
    workflowId: string;
    requestId: string;
    newWorkflowId: string | null;
    error: string | null;
  }[];
  remaining: number;
  requestId: string;
}

interface BulkOptions extends ApiCliOptions {
  status?: string;
  type?: string;
  from?: string;
  to?: string;
  text?: string;
  dryRun?: boolean;
  yes?: boolean;
  limit: string;
  requestId?: string;
  reason?: string;
}

function bulkCommand(parent: Command, name: string, description: string): Command {
  return apiOptions(
    requestIdOption(
      parent
        .command(name)
        .description(description)
        .option("--status <status>", "pending, running, blocked, completed, failed or cancelled")
        .option("--type <type>", "workflow type")
        .option("--from <time>", "started at or after this ISO-8601 time")
        .option("--to <time>", "started before this ISO-8601 time")
        .option("--text <text>", "a substring of the workflow ID or type")
        .option("--dry-run", "only count the runs that match and name up to 20 of them")
        .option("--yes", "do it (without --yes or with --dry-run, only count)")
        .option("--limit <n>", "runs this call takes at most (up to 1000)", "100"),
    ),
  );
}

/**
 * Sends one bulk call. Counting is the default: without `--yes` (or with `--dry-run`) nothing
 * is sent to any run, and stderr says how to go on. A filter is required, so no call reaches
 * every run by accident.
 */
async function runBulkCall(
  opts: BulkOptions,
  verb: string,
  send: (variables: Record<string, unknown> & { requestId: string }) => Promise<BulkResult>,
): Promise<void> {
  const filter = {
    status: opts.status?.toUpperCase(),
    type: opts.type,
    from: opts.from,
    to: opts.to,
    text: opts.text,
  };
  if (Object.values(filter).every((value) => value === undefined)) {
    throw new InvalidInputError(
      "give a filter (--status, --type, --from, --to or --text): a bulk operation never takes every run",
    );
  }
  const dryRun = opts.dryRun === true || opts.yes !== true;
  const result = await send({
    filter,
    reason: opts.reason,
    dryRun,
    limit: intOption(opts.limit, "--limit"),
    requestId: opts.requestId ?? randomUUID(),
  });
  print(result, opts, () => {
    if (result.dryRun) {
      const sample = result.sample.length > 0 ? `\n${result.sample.join("\n")}` : "";
      const more = result.matched > result.sample.length ? "\n…" : "";
      return `${result.matched} run(s) match${sample}${more}`;
    }
    const rows = table(
      result.applied,
      [
        { header: "ID", value: (r) => r.workflowId },
        ...(verb === "re-run" || verb === "reset"
          ? [
              {
                header: "NEW RUN",
                value: (r: BulkResult["applied"][number]) => r.newWorkflowId ?? "",
              },
            ]
          : []),
        { header: "ERROR", value: (r) => r.error ?? "" },
      ],
      "no runs match",
    );
    return `${rows}\n\n${result.applied.filter((r) => r.error === null).length} ${verb} sent, ${result.remaining} left (request ID ${result.requestId})`;
  });
  if (dryRun && !opts.json && opts.dryRun !== true && result.matched > 0)
    process.stderr.write(`weft: nothing sent: add --yes to ${verb} these runs\n`);
  else if (!dryRun && result.remaining > 0 && !opts.json)
    process.stderr.write(`weft: ${result.remaining} more match: run the command again\n`);
}

/** `weft workflows terminate|rerun|reset`: every run a filter matches, counted first. */
export function registerWorkflows(program: Command): void {
  const workflows = program
    .command("workflows")
    .description("operations on every run a filter matches, through the Weft API (counted first)");
  bulkCommand(
    workflows,
    "terminate",
    "terminate the open runs a filter matches (at most --limit per call); counts them unless --yes",
  )
    .option("--reason <text>", "why; recorded in each run's history")
    .action((opts: BulkOptions) =>
      withApi(opts, (client) =>
        runBulkCall(
          opts,
          "terminate",
          async (variables) =>
            (await sendRequest<{ terminateWorkflows: BulkResult }>(client, TERMINATE, variables))
              .terminateWorkflows,
        ),
      ),
    );
  bulkCommand(
    workflows,
    "rerun",
    "re-run the runs a filter matches with their input (at most --limit per call); counts them unless --yes",
  ).action((opts: BulkOptions) =>
    withApi(opts, (client) =>
      runBulkCall(
        opts,
        "re-run",
        async ({ reason: _reason, ...variables }) =>
          (await sendRequest<{ rerunWorkflows: BulkResult }>(client, RERUN, variables))
            .rerunWorkflows,
      ),
    ),
  );
  bulkCommand(
    workflows,
    "reset",
    "reset the runs a filter matches to their failed step, reusing the results before it (at most --limit per call); counts them unless --yes",
  ).action((opts: BulkOptions) =>
    withApi(opts, (client) =>
      runBulkCall(
        opts,
        "reset",
        async ({ reason: _reason, ...variables }) =>
          (await sendRequest<{ resetWorkflows: BulkResult }>(client, RESET, variables))
            .resetWorkflows,
      ),
    ),
  );
}
