import { createHash, randomUUID } from "node:crypto";
import { InvalidWorkflowIdError } from "./errors";

const WORKFLOW_ID = /^[A-Za-z0-9._:@/-]{1,200}$/;

export function assertWorkflowId(workflowId: string): string {
  if (typeof workflowId !== "string" || !WORKFLOW_ID.test(workflowId)) {
    throw new InvalidWorkflowIdError(String(workflowId));
  }
  return workflowId;
}

/** A run started with only an idempotency key gets an ID derived from it: same key, same run. */
export function workflowIdFromIdempotencyKey(workflowType: string, key: string): string {
  const digest = createHash("sha256").update(`${workflowType}\u0000${key}`).digest("hex");
  return `${workflowType.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60)}-idem-${digest.slice(0, 32)}`;
}

export function newWorkflowId(workflowType: string): string {
  return `${workflowType.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60)}-${randomUUID()}`;
}

/** Stable across attempts, so external systems can deduplicate a step's effects. */
export function stepIdempotencyKey(workflowId: string, stepSeq: number): string {
  return `${workflowId}/${stepSeq}`;
}

/** A step task's record key (and its cancel notice's): the step, whatever the attempt. */
export function taskRecordKey(ref: { workflowId: string; stepSeq: number }): string {
  return `${ref.workflowId}/${ref.stepSeq}`;
}

/** One attempt of a step: its leases, its done-marker, reports about it. */
export function attemptPath(ref: { workflowId: string; stepSeq: number; attempt: number }): string {
  return `${ref.workflowId}/${ref.stepSeq}/${ref.attempt}`;
}
