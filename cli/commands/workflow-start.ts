import type { Command } from "commander";
import { parseJsonOption, print } from "../output";
import { waitAndReport } from "../wait";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";

const START = `mutation ($type: String!, $workflowId: String, $input: JSON, $idempotencyKey: String) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input, idempotencyKey: $idempotencyKey) {
    workflowId
    waitingForDecider
  }
}`;

interface StartOptions extends ApiCliOptions {
  input?: string;
  id?: string;
  idempotencyKey?: string;
  wait?: boolean;
  timeout: string;
}

export function registerWorkflowStart(workflow: Command): void {
  apiOptions(
    workflow
      .command("start")
      .description(
        "start a run; prints its workflow ID alone on stdout (ID=$(weft workflow start …)), or with --wait its result once it ends (progress on stderr)",
      )
      .argument("<type>", "workflow type")
      .option("--input <json>", "input as JSON")
      .option("--id <workflowId>", "workflow ID (a repeated start with it returns the same run)")
      .option("--idempotency-key <key>", "derive the workflow ID from this key")
      .option("--wait", "wait for the run to end, showing progress on stderr")
      .option(
        "--timeout <ms>",
        "how long --wait waits before it gives up with WAIT_TIMEOUT (the run goes on)",
        "60000",
      ),
  ).action((type: string, opts: StartOptions) =>
    withApi(opts, async (client) => {
      const input = parseJsonOption(opts.input, "--input");
      const timeoutMs = intOption(opts.timeout, "--timeout");
      const { startWorkflow } = await client.request<{
        startWorkflow: { workflowId: string; waitingForDecider: boolean };
      }>(START, { type, workflowId: opts.id, input, idempotencyKey: opts.idempotencyKey });
      const { workflowId, waitingForDecider } = startWorkflow;
      if (waitingForDecider) {
        process.stderr.write(
          `weft: no live decider hosts ${type} right now: the start waits in Kafka and the run begins when one comes back\n`,
        );
      }
      if (!opts.wait) {
        // The bare ID on stdout: `ID=$(weft workflow start …)` takes it.
        print(startWorkflow, opts, () => workflowId);
        return;
      }
      process.stderr.write(`started ${workflowId}\n`);
      await waitAndReport(client, workflowId, { json: opts.json, timeoutMs });
    }),
  );
}
