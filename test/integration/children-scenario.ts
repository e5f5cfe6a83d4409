/**
 * Child workflows, the same on every transport: a parent starts 50 children, half of them
 * complete, and the parent is cancelled halfway; the open children then follow its
 * parent-close policy (cancel: they clean up and close cancelled; terminate: they close at
 * once, no cleanup; abandon: they run on, and finish when released). Every child records its
 * parent link, the parent records each child's close once, and the parent's history replays.
 * A failed child surfaces in the parent as ChildWorkflowFailedError.
 */
import { WorkflowCancelledError } from "../../core/errors";
import type { HistoryEvent, ParentClosePolicy } from "../../schemas/types";
import type { WeftClient } from "../../sdk/client";
import { checkReplay } from "../../workflow/replay-check";
import { carefulParent, familyParent, patientParent } from "../fixtures/children";
import { waitFor } from "../support/env";
import { count, eventsOf, expectGapless, types } from "../support/history";

export type OpenWeft = () => Promise<{ client: WeftClient; stop(): Promise<void> }>;

const CLOSED = ["WorkflowCompleted", "WorkflowFailed", "WorkflowCancelled"];

async function closeOf(client: WeftClient, workflowId: string): Promise<HistoryEvent[]> {
  return waitFor(`${workflowId} to close`, async () => {
    const history = await client.getHistory(workflowId);
    return CLOSED.includes(history.at(-1)?.body.type ?? "") ? history : undefined;
  });
}

export function childrenScenario(name: string, open: OpenWeft): void {
  const cancelledHalfway = (policy: ParentClosePolicy, children: number) =>
    it(`a parent of ${children} children cancelled halfway: the open ones follow policy ${policy}`, async () => {
      const weft = await open();
      try {
        const done = children / 2;
        const parentId = `${name}-family-${policy}`;
        await weft.client.start(familyParent, {
          workflowId: parentId,
          input: { count: children, done, policy },
        });
        await waitFor(`${done} children to complete`, async () => {
          const history = await weft.client.getHistory(parentId);
          return count(history, "ChildWorkflowCompleted") === done;
        });
        await weft.client.cancel(parentId, "halfway");
        await expect(weft.client.result(parentId, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(
          WorkflowCancelledError,
        );

        const parent = await weft.client.getHistory(parentId);
        expectGapless(parent);
        const scheduled = eventsOf(parent, "ChildWorkflowScheduled");
        expect(scheduled.map((e) => e.body.childWorkflowId)).toEqual(
          scheduled.map((e) => `${parentId}/${e.body.childSeq}`),
        );
        expect(scheduled).toHaveLength(children);
        expect(scheduled.every((e) => e.body.parentClosePolicy === policy)).toBe(true);
        // Each child's close is recorded once; the held ones closed after their parent.
        const completed = eventsOf(parent, "ChildWorkflowCompleted");
        expect(new Set(completed.map((e) => e.body.childSeq)).size).toBe(done);
        expect(count(parent, "ChildWorkflowFailed")).toBe(0);
        expect(types(parent).slice(-2)).toEqual(["WorkflowCancelRequested", "WorkflowCancelled"]);
        expect((await checkReplay(familyParent, parent)).ok).toBe(true);

        for (const [index, event] of scheduled.entries()) {
          const childId = event.body.childWorkflowId;
          const held = index >= done;
          const child =
            held && policy === "abandon"
              ? await weft.client.getHistory(childId)
              : await closeOf(weft.client, childId);
          expect(child[0]!.body).toMatchObject({
            type: "WorkflowStarted",
            parent: { workflowId: parentId, childSeq: event.body.childSeq },
          });
          if (!held) {
            expect(types(child).at(-1)).toBe("WorkflowCompleted");
            continue;
          }
          if (policy === "cancel") {
            // The cancel reached its code, which cleaned up with a step, then closed.
            expect(types(child)).toContain("WorkflowCancelRequested");
            const cleanup = eventsOf(child, "StepScheduled").filter(
              (e) => e.body.stepName === "childCleanup",
            );
            expect(cleanup).toHaveLength(1);
            expect(types(child).at(-1)).toBe("WorkflowCancelled");
          } else if (policy === "terminate") {
            // Closed at once: its code never saw the cancel, no cleanup ran.
            expect(types(child)).toEqual([
              "WorkflowStarted",
              "SignalWaitStarted",
              "WorkflowCancelled",
            ]);
          } else {
            expect(types(child)).toEqual(["WorkflowStarted", "SignalWaitStarted"]);
          }
        }
        if (policy === "abandon") {
          // Abandoned children run on by themselves: released, they complete.
          const heldIds = scheduled.slice(done).map((e) => e.body.childWorkflowId);
          for (const childId of heldIds) await weft.client.signal(childId, "release", null);
          for (const childId of heldIds)
            expect(types(await closeOf(weft.client, childId)).at(-1)).toBe("WorkflowCompleted");
          // Their closes reach a closed parent: nothing more is recorded there.
          expect(await weft.client.getHistory(parentId)).toHaveLength(parent.length);
        }
      } finally {
        await weft.stop();
      }
    });

  cancelledHalfway("cancel", 50);
  cancelledHalfway("terminate", 10);
  cancelledHalfway("abandon", 10);

  it("a parent and its children reopen after a restart, and the children's closes still reach the parent once", async () => {
    const parentId = `${name}-family-restarted`;
    const before = await open();
    try {
      await before.client.start(familyParent, {
        workflowId: parentId,
        input: { count: 6, done: 3, policy: "cancel" },
      });
      await waitFor("3 children to complete", async () => {
        const history = await before.client.getHistory(parentId);
        return count(history, "ChildWorkflowCompleted") === 3;
      });
    } finally {
      await before.stop();
    }
    const after = await open();
    try {
      // The held children were restored with their parent link, the parent with its children.
      for (const n of [4, 5, 6]) await after.client.signal(`${parentId}/${n}`, "release", null);
      // 2 × (0 + 1 + … + 5)
      expect(await after.client.result(parentId, { timeoutMs: 60_000 })).toBe(30);
      const parent = await after.client.getHistory(parentId);
      expectGapless(parent);
      const completed = eventsOf(parent, "ChildWorkflowCompleted").map((e) => e.body.childSeq);
      expect(completed.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await checkReplay(familyParent, parent)).ok).toBe(true);
    } finally {
      await after.stop();
    }
  });

  it("fires a timer that follows a child's report, the last command of the parent's partition", async () => {
    const weft = await open();
    try {
      const { workflowId } = await weft.client.start(patientParent, {
        workflowId: `${name}-patient`,
      });
      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toBe(8);
      const history = await weft.client.getHistory(workflowId);
      expect(types(history).slice(-3)).toEqual(["TimerStarted", "TimerFired", "WorkflowCompleted"]);
    } finally {
      await weft.stop();
    }
  });

  it("ctx.child resolves with the child's result, and rejects with CHILD_WORKFLOW_FAILED when it fails", async () => {
    const weft = await open();
    try {
      const ok = await weft.client.start(carefulParent, {
        workflowId: `${name}-careful-ok`,
        input: { fail: false },
      });
      expect(await weft.client.result(ok.workflowId, { timeoutMs: 30_000 })).toEqual({
        doubled: 42,
      });
      const failing = await weft.client.start(carefulParent, {
        workflowId: `${name}-careful-failed`,
        input: { fail: true },
      });
      expect(await weft.client.result(failing.workflowId, { timeoutMs: 30_000 })).toEqual({
        failed: "failed",
        code: "CHILD_WORKFLOW_FAILED",
        cause: "child 21 refused",
      });
      // A child ID that names another run (here: the first parent's child) never starts.
      const taken = await weft.client.start(carefulParent, {
        workflowId: `${name}-careful-taken`,
        input: { fail: false, childId: `${name}-careful-ok/1` },
      });
      expect(await weft.client.result(taken.workflowId, { timeoutMs: 30_000 })).toEqual({
        failed: "refused",
        code: "CHILD_WORKFLOW_FAILED",
        cause: "CHILD_WORKFLOW_ID_IN_USE",
      });
      const history = await weft.client.getHistory(failing.workflowId);
      expect((await checkReplay(carefulParent, history)).ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });
}
