/**
 * The commands one run sends another because of a parent/child link, built here so that the
 * decision core only says when: a child's close reported to its parent (`ReportChildClosed`,
 * to the parent's partition), a child refused because its ID names another run, and a
 * parent's close passed on to an open child as its parent-close policy says. Each is produced
 * in the same transaction as the event that causes it, so it is sent exactly when that event
 * is recorded. Pure: no I/O.
 */
import type { Command, ErrorInfo, EventBody, ParentLink } from "../schemas/types";
import type { OpenChild } from "./run";

/** How the parent learns that its child closed; undefined for an event that closes no child. */
export function childClosedReport(
  childWorkflowId: string,
  parent: ParentLink,
  closing: EventBody,
  now: number,
): Command | undefined {
  const report = (
    status: "completed" | "failed" | "cancelled",
    result: string | null,
    error: ErrorInfo | null,
  ): Command => ({
    workflowId: parent.workflowId,
    sentAt: now,
    body: {
      type: "ReportChildClosed",
      childSeq: parent.childSeq,
      childWorkflowId,
      status,
      result,
      error,
    },
  });
  switch (closing.type) {
    case "WorkflowCompleted":
      return report("completed", closing.result, null);
    case "WorkflowFailed":
      return report("failed", null, closing.error);
    case "WorkflowCancelled":
      return report("cancelled", null, {
        name: "WorkflowCancelledError",
        message: `workflow ${childWorkflowId} was cancelled${closing.reason ? `: ${closing.reason}` : ""}`,
        stack: null,
        terminal: true,
        code: "WORKFLOW_CANCELLED",
      });
    default:
      return undefined;
  }
}

/** Tells a parent its child never started: the child's workflow ID names another run. */
export function childRefusedReport(
  childWorkflowId: string,
  parent: ParentLink,
  now: number,
): Command {
  return {
    workflowId: parent.workflowId,
    sentAt: now,
    body: {
      type: "ReportChildClosed",
      childSeq: parent.childSeq,
      childWorkflowId,
      status: "refused",
      result: null,
      error: {
        name: "ChildWorkflowIdInUseError",
        message: `workflow ID ${childWorkflowId} already names another run`,
        stack: null,
        terminal: true,
        code: "CHILD_WORKFLOW_ID_IN_USE",
      },
    },
  };
}

/**
 * What an open child gets when its parent closes (or, cancelled, stops awaiting it): a cancel
 * request (`cancel`), a cancel that skips its cleanup (`terminate`), or nothing (`abandon`).
 * The request ID names the parent and the call, so a repeat is recorded once by the child.
 */
export function parentCloseCommand(
  parentWorkflowId: string,
  childSeq: number,
  child: OpenChild,
  how: string,
  now: number,
): Command | undefined {
  if (child.parentClosePolicy === "abandon") return undefined;
  return {
    workflowId: child.workflowId,
    sentAt: now,
    body: {
      type: "CancelWorkflow",
      reason: `parent workflow ${parentWorkflowId} ${how} (parent-close policy: ${child.parentClosePolicy})`,
      requestId: `${parentWorkflowId}/${childSeq}/parent-closed`,
      terminate: child.parentClosePolicy === "terminate",
    },
  };
}
