import type { ReadModelDb } from "../projections/read-model-db";
import type { IResolvers } from "mercurius";
import { UnknownWorkflowTypeError } from "../core/errors";
import { withErrorCodes } from "./api-errors";
import {
  hasLiveDecider,
  isWorkflowTypeRegistered,
  listDefinitions,
  listProcesses,
  type DefinitionRecord,
  type ProcessRecord,
} from "./registry-queries";

/** A stored time as the API gives it: ISO-8601, or null. */
export const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Before a start: refuses a type no decider ever registered (UNKNOWN_WORKFLOW_TYPE), and tells
 * whether the command will wait in Kafka because no decider hosting the type is alive now.
 */
export async function checkStartable(
  db: ReadModelDb,
  workflowType: string,
): Promise<{ waitingForDecider: boolean }> {
  if (!(await isWorkflowTypeRegistered(db, workflowType))) {
    throw new UnknownWorkflowTypeError(workflowType);
  }
  return { waitingForDecider: !(await hasLiveDecider(db, workflowType)) };
}

/** The registration side of the schema: processes, definitions, and runs waiting for a decider. */
export function createRegistryResolvers({ db }: { db: ReadModelDb }) {
  return {
    Query: {
      workers: (_root, args: { includeStopped?: boolean | null }) =>
        withErrorCodes(() => listProcesses(db, args.includeStopped === true)),
      definitions: (_root, args: { kind?: string | null }) =>
        withErrorCodes(() =>
          listDefinitions(db, args.kind ? (args.kind.toLowerCase() as "workflow" | "step") : null),
        ),
    },
    Workflow: {
      waitingForDecider: async (run: { status: string; workflow_type: string }) =>
        run.status === "pending" && !(await hasLiveDecider(db, run.workflow_type)),
    },
    WorkerProcess: {
      id: (p: ProcessRecord) => p.process_id,
      inFlight: (p: ProcessRecord) => p.in_flight,
      startedAt: (p: ProcessRecord) => iso(p.started_at),
      lastSeenAt: (p: ProcessRecord) => iso(p.last_seen),
      stoppedAt: (p: ProcessRecord) => iso(p.stopped_at),
    },
    Definition: {
      kind: (d: DefinitionRecord) => d.kind.toUpperCase(),
      taskQueue: (d: DefinitionRecord) => d.task_queue,
      timeoutMs: (d: DefinitionRecord) => (d.timeout_ms === null ? null : Number(d.timeout_ms)),
      openRuns: (d: DefinitionRecord) => (d.kind === "workflow" ? Number(d.open_runs) : null),
      firstSeenAt: (d: DefinitionRecord) => iso(d.first_seen),
      lastSeenAt: (d: DefinitionRecord) => iso(d.last_seen),
    },
  } satisfies IResolvers;
}
