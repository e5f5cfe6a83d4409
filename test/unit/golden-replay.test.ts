/**
 * Recorded histories (test/golden/histories) replayed through today's engine and workflow code:
 * an engine change that would break runs already in flight fails here.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createUserSignupFlow } from "../../examples/signup";
import { readHistoryFile } from "../../testing/history-file";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import { WorkflowExecution } from "../../workflow/execution";
import { feeV2 } from "../fixtures/timeouts";
import { familyWorkflows } from "../fixtures/children";
import { scopeWorkflows } from "../fixtures/scopes";
import { workflows } from "../fixtures/workflows";
import { scheduleWorkflow } from "../../workflow/schedules/schedule-workflow";

const dir = join(__dirname, "..", "golden", "histories");
const definitions = new Map<string, AnyWorkflowDefinition>(
  [
    ...workflows,
    feeV2,
    ...familyWorkflows,
    ...scopeWorkflows,
    createUserSignupFlow({ waitMs: 0, confirmTimeoutMs: 0 }),
    scheduleWorkflow,
  ].map((w) => [w.name, w]),
);
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

it("has recorded histories to replay", () => {
  expect(files.length).toBeGreaterThanOrEqual(7);
});

describe.each(files)("%s", (file) => {
  // The loader of `weft replay workflows --file`: these are the files `weft history export` writes.
  const recorded = readHistoryFile(join(dir, file));
  // The last run of the history (earlier ones continued as new), as its decider replays it.
  const lastStart = recorded.map((e) => e.body.type).lastIndexOf("WorkflowStarted");
  const history = recorded.slice(Math.max(0, lastStart));
  const [first] = history;
  const last = history[history.length - 1]!;

  it("replays to the recorded outcome without divergence", async () => {
    if (first?.body.type !== "WorkflowStarted")
      throw new Error(`${file} does not start with WorkflowStarted`);
    const definition = definitions.get(first.body.workflowType);
    expect(definition).toBeDefined();
    const execution = new WorkflowExecution(
      definition!,
      first.workflowId,
      first.body.input,
      first.at,
      first.seq,
    );
    // As a decider rebuilds a run: all of it is history (ctx.patched answers from it).
    execution.replaying(history);
    await execution.begin();
    for (const event of history.slice(0, -1)) {
      await execution.deliver(event);
      expect(execution.outcome?.kind).not.toBe("blocked");
    }
    expect(execution.newCommands()).toEqual([]);
    if (last.body.type === "WorkflowCompleted") {
      expect(execution.outcome).toEqual({ kind: "completed", result: last.body.result });
    } else if (last.body.type === "WorkflowFailed") {
      expect(execution.outcome).toMatchObject({
        kind: "failed",
        error: { message: last.body.error.message },
      });
    } else if (last.body.type === "WorkflowCancelled" && last.body.terminated) {
      // Terminated: closed by the decider without the code, which was still waiting.
      expect(execution.outcome).toBeUndefined();
    } else {
      throw new Error(`${file} does not end with a completed, failed or terminated run`);
    }
  });
});
