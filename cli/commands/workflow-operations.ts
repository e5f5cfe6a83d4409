import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import { print } from "../output";
import { apiOptions, intOption, withApi, type ApiCliOptions } from "./api-options";
import { requestIdOption, sendRequest } from "./workflow-control";

const TERMINATE = `mutation ($workflowId: String!, $reason: String, $requestId: String) {
  terminateWorkflow(workflowId: $workflowId, reason: $reason, requestId: $requestId) { workflowId accepted requestId }
}`;
const RERUN = `mutation ($workflowId: String!, $newWorkflowId: String, $requestId: String) {
  rerunWorkflow(workflowId: $workflowId, newWorkflowId: $newWorkflowId, requestId: $requestId) { workflowId sourceWorkflowId requestId reusedSteps waitingForDecider }
}`;
const RESET = `mutation ($workflowId: String!, $toStepSeq: Int!, $newWorkflowId: String, $requestId: String) {
  resetWorkflow(workflowId: $workflowId, toStepSeq: $toStepSeq, newWorkflowId: $newWorkflowId, requestId: $requestId) { workflowId sourceWorkflowId requestId reusedSteps waitingForDecider }
}`;

interface NewRun {
  workflowId: string;
  sourceWorkflowId: string;
  requestId: string;
  reusedSteps: number;
  waitingForDecider: boolean;
}

type OperationOptions = ApiCliOptions & { requestId?: string; newId?: string };

function newIdOption(command: Command): Command {
  return command.option(
    "--new-id <id>",
    "the new run's workflow ID (the run's own: a new run under it once it closed); default one derived from the run's and the request ID",
  );
}

/** Prints the new run's ID alone on stdout, as `workflow start` does (`--json`: all of it). */
function printNewRun(run: NewRun, opts: OperationOptions, what: string): void {
  if (run.waitingForDecider) {
    process.stderr.write(
      "weft: no live decider hosts the run's type right now: the start waits in Kafka\n",
    );
  }
  if (!opts.json) process.stderr.write(`${what} of ${run.sourceWorkflowId} started\n`);
  print(run, opts, () => run.workflowId);
}

/**
 * `terminate`, `rerun` and `reset`: one run, through the API. Each retries a lost answer with
 * the same request ID, so a terminate is recorded once and a re-run or reset starts one run.
 */
export function registerWorkflowOperations(workflow: Command): void {
  apiOptions(
    requestIdOption(
      workflow
        .command("terminate")
        .description(
          "close a run at once, cancelled, without running its code (no cleanup); its running steps are told to stop",
        )
        .argument("<workflowId>")
        .option("--reason <text>", "why; recorded in the run's history"),
    ),
  ).action((workflowId: string, opts: OperationOptions & { reason?: string }) =>
    withApi(opts, async (client) => {
      const { terminateWorkflow } = await sendRequest<{
        terminateWorkflow: { workflowId: string; requestId: string };
      }>(client, TERMINATE, {
        workflowId,
        reason: opts.reason,
        requestId: opts.requestId ?? randomUUID(),
      });
      print(
        terminateWorkflow,
        opts,
        () => `terminate sent to ${workflowId} (request ID ${terminateWorkflow.requestId})`,
      );
    }),
  );

  apiOptions(
    newIdOption(
      requestIdOption(
        workflow
          .command("rerun")
          .description("start a new run with the type and input of a run; prints its workflow ID")
          .argument("<workflowId>"),
      ),
    ),
  ).action((workflowId: string, opts: OperationOptions) =>
    withApi(opts, async (client) => {
      const { rerunWorkflow } = await sendRequest<{ rerunWorkflow: NewRun }>(client, RERUN, {
        workflowId,
        newWorkflowId: opts.newId,
        requestId: opts.requestId ?? randomUUID(),
      });
      printNewRun(rerunWorkflow, opts, "re-run");
    }),
  );

  apiOptions(
    newIdOption(
      requestIdOption(
        workflow
          .command("reset")
          .description(
            "start a new run of a closed run that reuses the recorded results of its steps before <stepSeq> and runs that step and the rest again; prints its workflow ID",
          )
          .argument("<workflowId>")
          .argument("<stepSeq>", "the step to run again (its seq, as `describe` lists it)"),
      ),
    ),
  ).action((workflowId: string, stepSeq: string, opts: OperationOptions) =>
    withApi(opts, async (client) => {
      const { resetWorkflow } = await sendRequest<{ resetWorkflow: NewRun }>(client, RESET, {
        workflowId,
        toStepSeq: intOption(stepSeq, "<stepSeq>"),
        newWorkflowId: opts.newId,
        requestId: opts.requestId ?? randomUUID(),
      });
      printNewRun(resetWorkflow, opts, `reset (${resetWorkflow.reusedSteps} step results reused)`);
    }),
  );
}
