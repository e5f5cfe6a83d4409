import type { Command } from "../schemas/types";
import { iso, type PendingRunRow } from "./rows";
import { RawJson } from "./sql-json";

/**
 * Pending runs from a batch of commands: one per StartWorkflow (the first of a run wins; the
 * decider dedupes the same way), timed by the command's `sentAt`. Other commands are ignored.
 */
export function foldStarts(commands: readonly Command[]): PendingRunRow[] {
  const rows = new Map<string, PendingRunRow>();
  for (const { workflowId, sentAt, body } of commands) {
    if (body.type !== "StartWorkflow" || rows.has(workflowId)) continue;
    const at = iso(sentAt);
    rows.set(workflowId, {
      workflow_id: workflowId,
      workflow_type: body.workflowType,
      status: "pending",
      input: RawJson.from(body.input),
      result: null,
      error: null,
      idempotency_key: body.idempotencyKey,
      blocked_code: null,
      blocked_reason: null,
      waiting_on: [],
      buffered_signals: [],
      started_at: at,
      closed_at: null,
      last_seq: 0,
      updated_at: at,
      run_number: 1,
      run_start_seq: 1,
      state: null,
      definition_hash: null,
      parent_workflow_id: body.parent?.workflowId ?? null,
    });
  }
  return [...rows.values()];
}
