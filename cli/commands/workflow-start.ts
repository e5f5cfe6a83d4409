import type { Command } from "commander";
import { parseJsonOption, print } from "../output";
import { WeftError } from "../../core/errors";
import { reusesClosedId, type IdReusePolicy } from "../../schemas/types";
import { CLOSED_STATUSES } from "../runs";
import { waitAndReport } from "../wait";
import { apiOptions, durationOption, intOption, withApi, type ApiCliOptions } from "./api-options";

const START = `mutation ($type: String!, $workflowId: String, $input: JSON, $idempotencyKey: String, $idReusePolicy: IdReusePolicy, $executionTimeoutMs: Float) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input, idempotencyKey: $idempotencyKey, idReusePolicy: $idReusePolicy, executionTimeoutMs: $executionTimeoutMs) {
    workflowId
    waitingForDecider
  }
}`;
const BEFORE = `query ($id: String!) { workflow(id: $id) { status lastSeq } }`;

/** --id-reuse values → the policy, and GraphQL's name of it. */
export const ID_REUSE: Record<string, { policy: IdReusePolicy; graphql: string }> = {
  "reject-duplicate": { policy: "rejectDuplicate", graphql: "REJECT_DUPLICATE" },
  "allow-after-close": { policy: "allowAfterClose", graphql: "ALLOW_AFTER_CLOSE" },
  "allow-after-failure": { policy: "allowAfterFailure", graphql: "ALLOW_AFTER_FAILURE" },
};

interface StartOptions extends ApiCliOptions {
  input?: string;
  id?: string;
  idempotencyKey?: string;
  idReuse?: string;
  executionTimeout?: string;
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
      .option(
        "--id-reuse <policy>",
        "when the ID names a closed run: reject-duplicate (default: the start is that run's), allow-after-close or allow-after-failure (a new run)",
      )
      .option(
        "--execution-timeout <duration>",
        "the run fails with WORKFLOW_TIMEOUT if still open this long after its start (90s, 30m, 6h, 2d, 1h30m or milliseconds), over the workflow's own executionTimeoutMs",
      )
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
      const executionTimeoutMs =
        opts.executionTimeout === undefined
          ? undefined
          : durationOption(opts.executionTimeout, "--execution-timeout");
      const reuse = opts.idReuse === undefined ? undefined : ID_REUSE[opts.idReuse];
      if (opts.idReuse !== undefined && !reuse) {
        throw new WeftError(
          "INVALID_INPUT",
          `--id-reuse ${opts.idReuse} is none of ${Object.keys(ID_REUSE).join(", ")}`,
        );
      }
      // With --wait, a start that makes a new run under a closed run's ID waits for that run,
      // not the closed one the read models still show: its history starts after the closed one's.
      const before =
        opts.wait && opts.id !== undefined && reuse !== undefined
          ? (
              await client.request<{ workflow: { status: string; lastSeq: number } | null }>(
                BEFORE,
                {
                  id: opts.id,
                },
              )
            ).workflow
          : null;
      const { startWorkflow } = await client.request<{
        startWorkflow: { workflowId: string; waitingForDecider: boolean };
      }>(START, {
        type,
        workflowId: opts.id,
        input,
        idempotencyKey: opts.idempotencyKey,
        idReusePolicy: reuse?.graphql,
        executionTimeoutMs,
      });
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
      const reused =
        before !== null &&
        CLOSED_STATUSES.has(before.status) &&
        reusesClosedId(reuse?.policy, before.status.toLowerCase());
      await waitAndReport(client, workflowId, {
        json: opts.json,
        timeoutMs,
        fromRunStartSeq: reused ? before.lastSeq + 1 : undefined,
      });
    }),
  );
}
