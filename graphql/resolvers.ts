import type { ReadModelDb } from "../projections/read-model-db";
import type { IResolvers, SubscriptionContext as PubSubContext } from "mercurius";
import { InvalidInputError } from "../core/errors";
import { assertWorkflowId } from "../core/ids";
import type { Logger } from "../core/logger";
import type { LiveEvent } from "../projections/live-changes";
import type { StepLogLineJson } from "../projections/rows";
import type { CommandProducer } from "../producers/command-producer";
import {
  sendToRun,
  type RunCheckOptions,
  type RunCommand,
  type RunView,
} from "../producers/run-check";
import {
  cancelWorkflowCommand,
  signalWithStartCommand,
  signalWorkflowCommand,
  startWorkflowCommand,
} from "../producers/workflow-commands";
import { withErrorCodes } from "./api-errors";
import { concat, filter, map, withCleanup } from "./async-streams";
import { JsonScalar } from "./json-scalar";
import { localTopics, type LiveFeed } from "./live-feed";
import { checkStartable, createRegistryResolvers, iso } from "./registry-resolvers";
import {
  failedSteps,
  pendingTimers,
  type FailedStepRow,
  type PendingTimerRow,
} from "./ops-queries";
import {
  checkFilter,
  childrenOf,
  eventsOf,
  findRun,
  listRuns,
  runMatches,
  signalsOf,
  stepAttemptsOf,
  stepLogsOf,
  timersOf,
  type RunFilter,
  type RunRow,
} from "./run-queries";
import { STATS_FEED } from "./stats";
import { WORKERS_FEED, type ProcessRecord } from "./registry-queries";

export interface ResolverDeps {
  db: ReadModelDb;
  commands: Pick<CommandProducer, "send" | "partitionEnd" | "partitionFor">;
  feed: LiveFeed;
  /** Whether a run takes a signal or cancel: the read models (projections/run-view.ts). */
  runs: RunView;
  runCheck?: RunCheckOptions;
  log: Logger;
}

interface SubscriptionContext {
  pubsub: PubSubContext;
}

type FilterArg = (Omit<RunFilter, "status"> & { status?: string | null }) | null | undefined;

const toRunFilter = (filter: FilterArg): RunFilter =>
  checkFilter({ ...filter, status: filter?.status?.toLowerCase() });

interface WorkflowsArgs {
  filter?: FilterArg;
  first: number;
  after?: string | null;
}

/** Resolvers of the schema in ./schema: mutations produce commands, queries read the read models. */
/** GraphQL's IdReusePolicy values → the command's. */
const ID_REUSE_POLICY = {
  REJECT_DUPLICATE: "rejectDuplicate",
  ALLOW_AFTER_CLOSE: "allowAfterClose",
  ALLOW_AFTER_FAILURE: "allowAfterFailure",
} as const;

export function createResolvers({
  db,
  commands,
  feed,
  runs,
  runCheck,
  log,
}: ResolverDeps): IResolvers {
  const registry = createRegistryResolvers({ db });
  /**
   * Sends a signal or cancel to a run that takes it: NOT_FOUND for a run never started,
   * RUN_CLOSED for one that closed (producers/run-check.ts). A run whose start the read models
   * have not projected yet waits for the projector, up to a bound, and is never NOT_FOUND.
   */
  const toRun = async (command: RunCommand) => {
    const check = await sendToRun(runs, commands, command, runCheck);
    if (check.kind === "unconfirmed") {
      log.info(
        {
          workflowId: command.workflowId,
          command: command.body.type,
          partition: check.partition,
          projected: check.applied.toString(),
          end: check.end.toString(),
        },
        "the read models are behind the run's commands partition: sent without confirming the run exists",
      );
    }
    return { workflowId: command.workflowId, accepted: true, requestId: command.body.requestId };
  };
  /** A derived feed's current value, then each new one, seen through `view`. */
  const derivedStream = <T>(
    ctx: SubscriptionContext,
    name: string,
    view: (value: T) => unknown = (value) => value,
  ) =>
    withErrorCodes(async () => {
      const release = feed.watchDerived(name);
      try {
        const queue = await ctx.pubsub.subscribe<T>(localTopics.derived(name));
        const first = (await feed.firstOfDerived(name)) as T[];
        return withCleanup(map(concat(first, queue), view), release);
      } catch (err) {
        release();
        throw err;
      }
    });
  return {
    ...registry,
    JSON: JsonScalar,
    Query: {
      ...registry.Query,
      failedSteps: (_root, args: { first: number; workflowType?: string | null }) =>
        withErrorCodes(async () =>
          (await failedSteps(db, args.first, args.workflowType)).map(failedStepFields),
        ),
      pendingTimers: (_root, args: { first: number }) =>
        withErrorCodes(async () => (await pendingTimers(db, args.first)).map(pendingTimerFields)),
      stats: () => withErrorCodes(() => feed.readDerived(STATS_FEED)),
      workflow: (_root, args: { id: string }) =>
        withErrorCodes(() => findRun(db, assertWorkflowId(args.id))),
      workflows: (_root, args: WorkflowsArgs) =>
        withErrorCodes(async () => {
          const page = await listRuns(db, toRunFilter(args.filter), args.first, args.after);
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
          idReusePolicy?: keyof typeof ID_REUSE_POLICY | null;
          executionTimeoutMs?: number | null;
        },
      ) =>
        withErrorCodes(async () => {
          const command = startWorkflowCommand(args.type, {
            workflowId: args.workflowId ?? undefined,
            input: args.input,
            idempotencyKey: args.idempotencyKey ?? undefined,
            idReusePolicy: args.idReusePolicy ? ID_REUSE_POLICY[args.idReusePolicy] : undefined,
            executionTimeoutMs: args.executionTimeoutMs ?? undefined,
          });
          const { waitingForDecider } = await checkStartable(db, args.type);
          await commands.send(command);
          return {
            workflowId: command.workflowId,
            requestId: command.body.requestId,
            waitingForDecider,
          };
        }),
      signalWithStart: (
        _root,
        args: {
          type: string;
          workflowId: string;
          name: string;
          payload?: unknown;
          input?: unknown;
          idReusePolicy?: keyof typeof ID_REUSE_POLICY | null;
          requestId?: string | null;
          executionTimeoutMs?: number | null;
        },
      ) =>
        withErrorCodes(async () => {
          const command = signalWithStartCommand(args.type, {
            workflowId: args.workflowId,
            input: args.input,
            idReusePolicy: args.idReusePolicy ? ID_REUSE_POLICY[args.idReusePolicy] : undefined,
            executionTimeoutMs: args.executionTimeoutMs ?? undefined,
            signalName: args.name,
            payload: args.payload,
            requestId: args.requestId,
          });
          const { waitingForDecider } = await checkStartable(db, args.type);
          await commands.send(command);
          return {
            workflowId: command.workflowId,
            requestId: command.body.requestId,
            waitingForDecider,
          };
        }),
      signalWorkflow: (
        _root,
        args: { workflowId: string; name: string; payload?: unknown; requestId?: string | null },
      ) =>
        withErrorCodes(() =>
          toRun(signalWorkflowCommand(args.workflowId, args.name, args.payload, args.requestId)),
        ),
      cancelWorkflow: (
        _root,
        args: { workflowId: string; reason?: string | null; requestId?: string | null },
      ) =>
        withErrorCodes(() =>
          toRun(cancelWorkflowCommand(args.workflowId, args.reason, args.requestId)),
        ),
    },
    Subscription: {
      workflowUpdated: {
        subscribe: (_root: unknown, args: { filter?: FilterArg }, ctx: SubscriptionContext) =>
          withErrorCodes(async () => {
            const runFilter = toRunFilter(args.filter);
            const release = feed.watchRuns();
            const queue = await ctx.pubsub.subscribe<RunRow>(localTopics.runs);
            return withCleanup(
              filter(queue, (row) => runMatches(row, runFilter)),
              release,
            );
          }),
        resolve: (row: RunRow) => row,
      },
      workflowEvents: {
        subscribe: (
          _root: unknown,
          args: { workflowId: string; afterSeq?: number | null },
          ctx: SubscriptionContext,
        ) =>
          withErrorCodes(async () => {
            const workflowId = assertWorkflowId(args.workflowId);
            const afterSeq = args.afterSeq ?? null;
            if (afterSeq !== null && afterSeq < 0) {
              throw new InvalidInputError(`afterSeq must be 0 or more, got ${afterSeq}`);
            }
            const release = await feed.watchEvents(workflowId);
            try {
              // Live first, then the stored backlog: an event stored in between is in one of
              // them (or both, and the sequence check drops the repeat).
              const queue = await ctx.pubsub.subscribe<LiveEvent>(localTopics.events(workflowId));
              const stored =
                afterSeq === null
                  ? []
                  : (await eventsOf(db, workflowId, afterSeq)).map((e) => ({
                      ...e,
                      at: e.at.toISOString(),
                    }));
              // Events come in sequence; a repeat (e.g. after a projection replay) is dropped.
              let last = afterSeq ?? 0;
              return withCleanup(
                filter(concat<LiveEvent>(stored, queue), (event) => {
                  if (event.seq <= last) return false;
                  last = event.seq;
                  return true;
                }),
                release,
              );
            } catch (err) {
              release();
              throw err;
            }
          }),
        resolve: (event: LiveEvent) => event,
      },
      stats: {
        subscribe: (_root: unknown, _args: unknown, ctx: SubscriptionContext) =>
          derivedStream(ctx, STATS_FEED),
        resolve: (stats: unknown) => stats,
      },
      workers: {
        subscribe: (
          _root: unknown,
          args: { includeStopped?: boolean | null },
          ctx: SubscriptionContext,
        ) =>
          derivedStream<ProcessRecord[]>(ctx, WORKERS_FEED, (list) =>
            args.includeStopped ? list : list.filter((p) => p.status !== "STOPPED"),
          ),
        resolve: (list: ProcessRecord[]) => list,
      },
    },
    StepAttempt: {
      logs: async (a: StepAttemptSource) => ((await a.logsOf())?.lines ?? []) as StepLogLineJson[],
      logsDropped: async (a: StepAttemptSource) => Number((await a.logsOf())?.dropped ?? 0),
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
      runNumber: (run: RunRow) => run.run_number,
      runStartSeq: (run: RunRow) => run.run_start_seq,
      definitionHash: (run: RunRow) => run.definition_hash,
      parentId: (run: RunRow) => run.parent_workflow_id,
      parent: (run: RunRow) =>
        run.parent_workflow_id === null ? null : findRun(db, run.parent_workflow_id),
      children: (run: RunRow, args: { first?: number | null }) =>
        childrenOf(db, run.workflow_id, args.first ?? 100),
      updatedAt: (run: RunRow) => iso(run.updated_at),
      steps: async (run: RunRow) => {
        // Logs travel apart from history: an attempt's row and its logs' row are joined here,
        // whichever was projected first (an attempt without logs yet has none). They are read
        // once per run, and only when a query asks for them.
        let logs: Promise<Map<string, StepLogsRow>> | undefined;
        const logsOf = (key: string) => {
          logs ??= stepLogsOf(db, run.workflow_id).then(
            (rows) => new Map(rows.map((l) => [`${l.step_seq}/${l.attempt}`, l])),
          );
          return logs.then((byAttempt) => byAttempt.get(key));
        };
        return (await stepAttemptsOf(db, run.workflow_id)).map((a): StepAttemptSource => ({
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
          logsOf: () => logsOf(`${a.step_seq}/${a.attempt}`),
        }));
      },
      timers: async (run: RunRow) =>
        (await timersOf(db, run.workflow_id)).map((t) => ({
          kind: t.kind,
          seq: t.seq,
          attempt: t.attempt,
          dueAt: iso(t.due_at),
          firedAt: iso(t.fired_at),
          status: t.status,
        })),
      signals: async (run: RunRow) =>
        (await signalsOf(db, run.workflow_id)).map((s) => ({
          seq: s.seq,
          name: s.name,
          payload: s.payload,
          requestId: s.request_id,
          receivedAt: iso(s.received_at),
          waitSeq: s.wait_seq,
        })),
      events: async (run: RunRow) =>
        (await eventsOf(db, run.workflow_id)).map((e) => ({ ...e, at: iso(e.at) })),
    },
  };
}

type StepLogsRow = Awaited<ReturnType<typeof stepLogsOf>>[number];

/** An attempt as the StepAttempt resolvers get it: its columns, and a way to its logs. */
interface StepAttemptSource {
  stepSeq: number;
  attempt: number;
  stepName: string;
  taskQueue: string;
  status: string;
  workerId: string | null;
  timeoutMs: number | null;
  scheduledAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: unknown;
  result: unknown;
  logsOf(): Promise<StepLogsRow | undefined>;
}

function failedStepFields(row: FailedStepRow) {
  return {
    workflowId: row.workflow_id,
    workflowType: row.workflow_type,
    stepSeq: row.step_seq,
    attempt: row.attempt,
    stepName: row.step_name,
    taskQueue: row.task_queue,
    status: row.status,
    workerId: row.worker_id,
    error: row.error,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
  };
}

function pendingTimerFields(row: PendingTimerRow) {
  return {
    workflowId: row.workflow_id,
    workflowType: row.workflow_type,
    kind: row.kind,
    seq: row.seq,
    attempt: row.attempt,
    dueAt: iso(row.due_at),
  };
}
