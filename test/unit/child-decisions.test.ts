/**
 * The parent/child protocol in the decision core, with no broker: the commands one run's
 * decision leaves for another are handed back by hand, repeated and reordered as a broker
 * could, and each side must record them once.
 */
import { createLogger } from "../../core/logger";
import { PartitionState } from "../../deciders/partition-state";
import { Registry } from "../../deciders/registry";
import type { Command, CommandBody, HistoryEvent } from "../../schemas/types";
import { double, familyChild, childCleanup } from "../fixtures/children";
import { defineWorkflow } from "../../workflow/definitions";
import { count, eventsOf, expectGapless } from "../support/history";

const parent = defineWorkflow("parent", async (ctx, input: { policy: "cancel" | "terminate" }) => {
  const handle = await ctx.startChild(
    familyChild,
    { n: 1, hold: true },
    { parentClosePolicy: input.policy },
  );
  return handle.result();
});

function harness() {
  const state = new PartitionState(
    0,
    new Registry([parent, familyChild], [double, childCleanup]),
    createLogger("silent"),
  );
  const history: HistoryEvent[] = [];
  let clock = 1_000;
  const apply = async (command: Command): Promise<Command[]> => {
    await state.apply(command, (clock += 10));
    const out = state.takeDecisions();
    history.push(...out.events);
    return out.commands;
  };
  const of = (workflowId: string) => history.filter((e) => e.workflowId === workflowId);
  return { apply, of };
}

const command = (workflowId: string, body: CommandBody): Command => ({
  workflowId,
  sentAt: 0,
  body,
});
const start = (policy: string): CommandBody => ({
  type: "StartWorkflow",
  workflowType: "parent",
  input: JSON.stringify({ policy }),
  idempotencyKey: null,
  requestId: "r",
});

describe("child workflow decisions", () => {
  it("starts the child once, records its close once, and reports to the parent", async () => {
    const h = harness();
    const [childStart, ...none] = await h.apply(command("p", start("cancel")));
    expect(none).toHaveLength(0);
    expect(childStart).toMatchObject({
      workflowId: "p/1",
      body: { type: "StartWorkflow", parent: { workflowId: "p", childSeq: 1 } },
    });
    expect(await h.apply(childStart!)).toEqual([]);
    // A repeat of the same child's start is only a repeat: no report, no second run.
    expect(await h.apply(childStart!)).toEqual([]);
    expect(count(h.of("p/1"), "WorkflowStarted")).toBe(1);

    // The child is terminated by hand (closes at once): its close goes to the parent.
    const [report] = await h.apply(
      command("p/1", { type: "CancelWorkflow", reason: "x", requestId: "c", terminate: true }),
    );
    expect(report).toMatchObject({
      workflowId: "p",
      body: { type: "ReportChildClosed", childSeq: 1, childWorkflowId: "p/1", status: "cancelled" },
    });
    await h.apply(report!);
    await h.apply(report!);
    const parentHistory = h.of("p");
    expect(eventsOf(parentHistory, "ChildWorkflowFailed")).toHaveLength(1);
    expect(parentHistory.at(-1)!.body).toMatchObject({
      type: "WorkflowFailed",
      error: { code: "CHILD_WORKFLOW_FAILED" },
    });
    expectGapless(parentHistory);
  });

  it("passes the parent's close to its open child as the policy says", async () => {
    for (const policy of ["cancel", "terminate"] as const) {
      const h = harness();
      const [childStart] = await h.apply(command(`p-${policy}`, start(policy)));
      await h.apply(childStart!);
      const passed = await h.apply(
        command(`p-${policy}`, { type: "CancelWorkflow", reason: "stop", requestId: "c1" }),
      );
      expect(passed).toEqual([
        {
          workflowId: `p-${policy}/1`,
          sentAt: expect.any(Number) as number,
          body: {
            type: "CancelWorkflow",
            reason: `parent workflow p-${policy} was cancelled (parent-close policy: ${policy})`,
            requestId: `p-${policy}/1/parent-closed`,
            terminate: policy === "terminate",
          },
        },
      ]);
      await h.apply(passed[0]!);
      const child = h.of(`p-${policy}/1`);
      // cancel: the code sees it and schedules its cleanup; terminate: closed at once.
      expect(child.map((e) => e.body.type).slice(2)).toEqual(
        policy === "cancel" ? ["WorkflowCancelRequested", "StepScheduled"] : ["WorkflowCancelled"],
      );
    }
  });

  it("tells the parent when the child's ID names another run", async () => {
    const h = harness();
    await h.apply(command("p/1", start("cancel")));
    const [childStart] = await h.apply(command("p", start("cancel")));
    const [refused] = await h.apply(childStart!);
    expect(refused).toMatchObject({
      workflowId: "p",
      body: { status: "refused", error: { code: "CHILD_WORKFLOW_ID_IN_USE" } },
    });
  });
});
