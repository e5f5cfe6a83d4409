import type { Pool } from "pg";
import type { IResolvers } from "mercurius";
import { assertWorkflowId } from "../core/ids";
import type { CommandProducer } from "../producers/command-producer";
import {
  cancelWorkflowCommand,
  signalWorkflowCommand,
  startWorkflowCommand,
} from "../producers/workflow-commands";
import { withErrorCodes } from "./api-errors";
import { JsonScalar } from "./json-scalar";
import { checkStartable, createRegistryResolvers } from "./registry-resolvers";
import {
  eventsOf,
  findRun,
  listRuns,
  signalsOf,
  stepAttemptsOf,
  timersOf,
  type RunFilter,
  type RunRow,
} from "./run-queries";

export interface ResolverDeps {
  pool: Pool;
  commands: Pick<CommandProducer, "send">;
}

interface WorkflowsArgs {
  filter?: (Omit<RunFilter, "status"> & { status?: string | null }) | null;
  first: number;
  after?: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Resolvers of the schema in ./schema: mutations produce commands, queries read the read models. */
export function createResolvers({ pool, commands }: ResolverDeps): IResolvers {
  const registry = createRegistryResolvers({ pool });
  return {
    ...registry,
    JSON: JsonScalar,
    Query: {
      ...registry.Query,
      workflow: (_root, args: { id: string }) =>
        withErrorCodes(() => findRun(pool, assertWorkflowId(args.id))),
      workflows: (_root, args: WorkflowsArgs) =>
        withErrorCodes(async () => {
          const filter = { ...args.filter, status: args.filter?.status?.toLowerCase() };
          const page = await listRuns(pool, filter, args.first, args.after);
          return {
            nodes: page.rows,
            pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
          };
        }),
    },
    Mutation: {
      startWorkflow: (
        _root,
        args: {
          type: string;
          workflowId?: string | null;
          input?: unknown;
          idempotencyKey?: string | null;
        },
      ) =>
        withErrorCodes(async () => {
          const command = startWorkflowCommand(args.type, {
            workflowId: args.workflowId ?? undefined,
            input: args.input,
            idempotencyKey: args.idempotencyKey ?? undefined,
          });
          const { waitingForDecider } = await checkStartable(pool, args.type);
          await commands.send(command);
          return { workflowId: command.workflowId, waitingForDecider };
        }),
      signalWorkflow: (_root, args: { workflowId: string; name: string; payload?: unknown }) =>
        withErrorCodes(async () => {
          await commands.send(signalWorkflowCommand(args.workflowId, args.name, args.payload));
          return { workflowId: args.workflowId, accepted: true };
        }),
      cancelWorkflow: (_root, args: { workflowId: string; reason?: string | null }) =>
        withErrorCodes(async () => {
          await commands.send(cancelWorkflowCommand(args.workflowId, args.reason));
          return { workflowId: args.workflowId, accepted: true };
        }),
    },
    Workflow: {
      ...registry.Workflow,
      id: (run: RunRow) => run.workflow_id,
      type: (run: RunRow) => run.workflow_type,
      status: (run: RunRow) => run.status.toUpperCase(),
      idempotencyKey: (run: RunRow) => run.idempotency_key,
      blockedCode: (run: RunRow) => run.blocked_code,
      blockedReason: (run: RunRow) => run.blocked_reason,
      waitingOn: (run: RunRow) => run.waiting_on,
      startedAt: (run: RunRow) => iso(run.started_at),
      closedAt: (run: RunRow) => iso(run.closed_at),
      lastSeq: (run: RunRow) => run.last_seq,
      updatedAt: (run: RunRow) => iso(run.updated_at),
      steps: async (run: RunRow) =>
        (await stepAttemptsOf(pool, run.workflow_id)).map((a) => ({
          stepSeq: a.step_seq,
          attempt: a.attempt,
          stepName: a.step_name,
          taskQueue: a.task_queue,
          status: a.status,
          workerId: a.worker_id,
          timeoutMs: a.timeout_ms,
          scheduledAt: iso(a.scheduled_at),
          startedAt: iso(a.started_at),
          finishedAt: iso(a.finished_at),
          durationMs: a.duration_ms === null ? null : Number(a.duration_ms),
          error: a.error,
          result: a.result,
        })),
      timers: async (run: RunRow) =>
        (await timersOf(pool, run.workflow_id)).map((t) => ({
          kind: t.kind,
          seq: t.seq,
          attempt: t.attempt,
          dueAt: iso(t.due_at),
          firedAt: iso(t.fired_at),
          status: t.status,
        })),
      signals: async (run: RunRow) =>
        (await signalsOf(pool, run.workflow_id)).map((s) => ({
          seq: s.seq,
          name: s.name,
          payload: s.payload,
          requestId: s.request_id,
          receivedAt: iso(s.received_at),
          waitSeq: s.wait_seq,
        })),
      events: async (run: RunRow) =>
        (await eventsOf(pool, run.workflow_id)).map((e) => ({ ...e, at: iso(e.at) })),
    },
  };
}
