import type { IResolvers } from "mercurius";
import type { Pool } from "pg";
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

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Before a start: refuses a type no decider ever registered (UNKNOWN_WORKFLOW_TYPE), and tells
 * whether the command will wait in Kafka because no decider hosting the type is alive now.
 */
export async function checkStartable(
  pool: Pool,
  workflowType: string,
): Promise<{ waitingForDecider: boolean }> {
  if (!(await isWorkflowTypeRegistered(pool, workflowType))) {
    throw new UnknownWorkflowTypeError(workflowType);
  }
  return { waitingForDecider: !(await hasLiveDecider(pool, workflowType)) };
}

/** The registration side of the schema: processes, definitions, and runs waiting for a decider. */
export function createRegistryResolvers({ pool }: { pool: Pool }) {
  return {
    Query: {
      workers: (_root, args: { includeStopped?: boolean | null }) =>
        withErrorCodes(() => listProcesses(pool, args.includeStopped === true)),
      definitions: (_root, args: { kind?: string | null }) =>
        withErrorCodes(() =>
          listDefinitions(
            pool,
            args.kind ? (args.kind.toLowerCase() as "workflow" | "step") : null,
          ),
        ),
    },
    Workflow: {
      waitingForDecider: async (run: { status: string; workflow_type: string }) =>
        run.status === "pending" && !(await hasLiveDecider(pool, run.workflow_type)),
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
      firstSeenAt: (d: DefinitionRecord) => iso(d.first_seen),
      lastSeenAt: (d: DefinitionRecord) => iso(d.last_seen),
    },
  } satisfies IResolvers;
}
