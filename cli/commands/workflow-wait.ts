import type { Command } from "commander";
import { waitAndReport } from "../wait";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";

export function registerWorkflowWait(workflow: Command): void {
  apiOptions(
    workflow
      .command("wait")
      .description(
        "wait for a run to end: prints its result and exits 0 when it completed; exits non-zero when it failed, was cancelled, is blocked or the timeout passed",
      )
      .argument("<workflowId>")
      .option(
        "--timeout <ms>",
        "give up after this long with WAIT_TIMEOUT, exit 2 (the run goes on)",
        "60000",
      ),
  ).action((workflowId: string, opts: ApiCliOptions & { timeout: string }) =>
    withApi(opts, async (client) => {
      const timeoutMs = intOption(opts.timeout, "--timeout");
      await waitAndReport(client, workflowId, { json: opts.json, timeoutMs });
    }),
  );
}
