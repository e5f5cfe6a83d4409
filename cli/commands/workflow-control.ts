import type { Command } from "commander";
import { parseJsonOption, print } from "../output";
import { apiOptions, withApi, type ApiCliOptions } from "./api-options";

const SIGNAL = `mutation ($workflowId: String!, $name: String!, $payload: JSON) {
  signalWorkflow(workflowId: $workflowId, name: $name, payload: $payload) { workflowId accepted }
}`;
const CANCEL = `mutation ($workflowId: String!, $reason: String) {
  cancelWorkflow(workflowId: $workflowId, reason: $reason) { workflowId accepted }
}`;

interface Accepted {
  workflowId: string;
  accepted: boolean;
}

/** `signal` and `cancel`: commands to a run, accepted once they are durably in Kafka. */
export function registerWorkflowControl(workflow: Command): void {
  apiOptions(
    workflow
      .command("signal")
      .description("send a signal to a run")
      .argument("<workflowId>")
      .argument("<name>", "signal name")
      .argument("[payload]", "payload as JSON"),
  ).action((workflowId: string, name: string, payload: string | undefined, opts: ApiCliOptions) =>
    withApi(opts, async (client) => {
      const { signalWorkflow } = await client.request<{ signalWorkflow: Accepted }>(SIGNAL, {
        workflowId,
        name,
        payload: parseJsonOption(payload, "payload"),
      });
      print(signalWorkflow, opts, () => `signal ${name} sent to ${workflowId}`);
    }),
  );

  apiOptions(
    workflow
      .command("cancel")
      .description("cancel a run")
      .argument("<workflowId>")
      .option("--reason <text>", "why; recorded in the run's history"),
  ).action((workflowId: string, opts: ApiCliOptions & { reason?: string }) =>
    withApi(opts, async (client) => {
      const { cancelWorkflow } = await client.request<{ cancelWorkflow: Accepted }>(CANCEL, {
        workflowId,
        reason: opts.reason,
      });
      print(cancelWorkflow, opts, () => `cancel sent to ${workflowId}`);
    }),
  );
}
