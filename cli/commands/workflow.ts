import type { Command } from "commander";
import { registerWorkflowControl } from "./workflow-control";
import { registerWorkflowDescribe } from "./workflow-describe";
import { registerWorkflowHistory } from "./workflow-history";
import { registerWorkflowList } from "./workflow-list";
import { registerWorkflowOperations } from "./workflow-operations";
import { registerWorkflowStart } from "./workflow-start";
import { registerWorkflowWait } from "./workflow-wait";

/** `weft workflow …`: every subcommand talks to the GraphQL API (WEFT_API_URL or --api). */
export function registerWorkflow(program: Command): void {
  const workflow = program
    .command("workflow")
    .description(
      "start, signal, cancel, terminate, re-run, reset, inspect and wait for runs through the Weft API (WEFT_API_URL, WEFT_API_TOKEN)",
    );
  registerWorkflowStart(workflow);
  registerWorkflowControl(workflow);
  registerWorkflowOperations(workflow);
  registerWorkflowDescribe(workflow);
  registerWorkflowList(workflow);
  registerWorkflowHistory(workflow);
  registerWorkflowWait(workflow);
}
