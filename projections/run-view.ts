/**
 * The API's view of the runs for producers/run-check.ts: the read models, derived by the
 * projector. A start shows as a `pending` row as soon as the projector has read its command
 * from `weft.commands`, and the projector stores its next offset on each commands partition in
 * the same transaction as the rows (weft_projector_offsets): so once that offset has reached the
 * partition's end offset at the time of a call, a run that has no row was never started.
 */
import { topics, type WeftConfig } from "../core/config";
import { CLOSED_STATUSES } from "../core/run-lifecycle";
import type { RunCommand, RunView } from "../producers/run-check";
import { projectorGroup } from "./projector";
import type { ReadModelDb } from "./read-model-db";
import { readOffsets } from "./tables/offsets";

export function readModelRunView(db: ReadModelDb, config: WeftConfig): RunView {
  const group = projectorGroup(config);
  const commandsTopic = topics.commands(config);
  return {
    // One statement, after the offset was read: it sees the rows committed with that offset.
    async find(workflowId) {
      const row = await db.db
        .selectFrom("weft_runs")
        .select("status")
        .where("workflow_id", "=", workflowId)
        .executeTakeFirst();
      return row && { status: row.status, closed: CLOSED_STATUSES.has(row.status) };
    },
    recorded: (command) => recordedInReadModels(db, command),
    async appliedOffset(partition) {
      const offsets = await readOffsets(db, group, commandsTopic, [partition]);
      return offsets.get(partition) ?? 0n;
    },
  };
}

async function recordedInReadModels(db: ReadModelDb, command: RunCommand): Promise<boolean> {
  const { workflowId, body } = command;
  if (body.type === "SignalWorkflow") {
    const row = await db.db
      .selectFrom("weft_signals")
      .select("seq")
      .where("workflow_id", "=", workflowId)
      .where("request_id", "=", body.requestId)
      .executeTakeFirst();
    return row !== undefined;
  }
  // A cancel's request ID is on its WorkflowCancelRequested (history v5) or on the
  // WorkflowCancelled of a run closed at once (before v5, or blocked).
  const cancels = await db.db
    .selectFrom("weft_events")
    .select("body")
    .where("workflow_id", "=", workflowId)
    .where("type", "in", ["WorkflowCancelRequested", "WorkflowCancelled"])
    .execute();
  return cancels.some(
    (row) => (row.body as { requestId?: unknown } | undefined)?.requestId === body.requestId,
  );
}
