/**
 * Run operations over GraphQL: terminate, re-run and reset one run, and terminate or re-run
 * every run a filter matches (bulk-runs.ts). A re-run or reset reads the source run's events
 * from the read models and builds its start as the client does (producers/run-operations.ts).
 * Mutations, so a read-only token is refused (FORBIDDEN) before any of this runs.
 */
import { randomUUID } from "node:crypto";
import type { IResolvers } from "mercurius";
import { InvalidInputError, RunOpenError } from "../core/errors";
import { assertWorkflowId } from "../core/ids";
import type { Logger } from "../core/logger";
import type { ReadModelDb } from "../projections/read-model-db";
import type { CommandProducer } from "../producers/command-producer";
import { sendToRun, type RunCheckOptions, type RunView } from "../producers/run-check";
import {
  failedStepOf,
  resetCommand,
  rerunCommand,
  sourceRun,
  type NewRunOptions,
} from "../producers/run-operations";
import { terminateWorkflowCommand } from "../producers/workflow-commands";
import type { EventBody, HistoryEvent } from "../schemas/types";
import { withErrorCodes } from "./api-errors";
import { runBulk, type BulkResult } from "./bulk-runs";
import { checkStartable } from "./registry-resolvers";
import { checkFilter, eventsOf, type RunFilter } from "./run-queries";

export const runOperationSchema = /* GraphQL */ `
  type NewRunResult {
    "The run the operation started."
    workflowId: String!
    sourceWorkflowId: String!
    "The start's request ID: a retry with it is the same run."
    requestId: String!
    "A reset: how many recorded step results the new run takes instead of running them."
    reusedSteps: Int!
    "True when no live decider hosts the type right now: the command waits durably in Kafka."
    waitingForDecider: Boolean!
  }

  type BulkRunItem {
    workflowId: String!
    "The request ID this run's command carries (derived from the call's)."
    requestId: String!
    "The run a re-run started; null for a terminate."
    newWorkflowId: String
    "Why this run's command was refused (e.g. RUN_CLOSED: it closed meanwhile), or null."
    error: String
  }

  type BulkRunResult {
    dryRun: Boolean!
    "Runs the filter matches now (for a terminate, the open ones)."
    matched: Int!
    "Up to 20 of them, newest first."
    sample: [String!]!
    "What this call sent, one per run (none in a dry run), at most its limit."
    applied: [BulkRunItem!]!
    "Matched runs this call did not take: call again with the same filter for them."
    remaining: Int!
    "Names the call: retried with it, each run records its command once."
    requestId: String!
  }

  extend type Mutation {
    """
    Closes the run at once, cancelled, without running its code (no cleanup); its running steps
    are told to stop. Request IDs and errors (NOT_FOUND, RUN_CLOSED) as for cancelWorkflow.
    """
    terminateWorkflow(workflowId: String!, reason: String, requestId: String): AcceptedResult!
    """
    Starts a new run with the type and input of the ID's latest run. newWorkflowId: the new run's
    ID (the source's own: a new run under it once it closed, RUN_OPEN before); default one derived
    from the source's and the request ID. NOT_FOUND when the read models hold no run of the ID.
    """
    rerunWorkflow(workflowId: String!, newWorkflowId: String, requestId: String): NewRunResult!
    """
    A re-run of a closed run whose steps before toStepSeq that completed take their recorded
    results instead of running; that step and what follows run again. RUN_OPEN for an open run,
    INVALID_RESET_POINT for a step seq the run never scheduled.
    """
    resetWorkflow(
      workflowId: String!
      toStepSeq: Int!
      newWorkflowId: String
      requestId: String
    ): NewRunResult!
    """
    Terminates every open run the filter matches, at most limit (1 to 1000) per call. dryRun
    (the default) only counts them and names a sample.
    """
    terminateWorkflows(
      filter: WorkflowFilter!
      reason: String
      dryRun: Boolean = true
      limit: Int = 100
      requestId: String
    ): BulkRunResult!
    "Re-runs every run the filter matches, as terminateWorkflows does; each new run's ID is derived."
    rerunWorkflows(
      filter: WorkflowFilter!
      dryRun: Boolean = true
      limit: Int = 100
      requestId: String
    ): BulkRunResult!
    """
    Resets every run the filter matches to its failed step (the first it scheduled that never
    completed), as terminateWorkflows does; each new run's ID is derived. A run still open
    (RUN_OPEN) or without a failed step (INVALID_RESET_POINT) is reported and left as it is.
    """
    resetWorkflows(
      filter: WorkflowFilter!
      dryRun: Boolean = true
      limit: Int = 100
      requestId: String
    ): BulkRunResult!
  }
`;

export interface RunOperationDeps {
  db: ReadModelDb;
  commands: Pick<CommandProducer, "send" | "partitionEnd" | "partitionFor">;
  /** Whether a run takes a terminate: the read models (projections/run-view.ts). */
  runs: RunView;
  runCheck?: RunCheckOptions;
  log: Logger;
}

type FilterArg = Omit<RunFilter, "status"> & { status?: string | null };

interface BulkArgs {
  filter: FilterArg;
  dryRun: boolean;
  limit: number;
  requestId?: string | null;
  reason?: string | null;
}

export function createRunOperationResolvers(deps: RunOperationDeps): IResolvers {
  const { db, commands, runs, runCheck, log } = deps;

  const terminate = async (
    workflowId: string,
    reason?: string | null,
    requestId?: string | null,
  ) => {
    const command = terminateWorkflowCommand(workflowId, reason, requestId);
    const check = await sendToRun(runs, commands, command, runCheck);
    if (check.kind === "unconfirmed")
      log.info({ workflowId }, "the read models are behind: terminate sent unconfirmed");
    return { workflowId, accepted: true, requestId: command.body.requestId };
  };

  /** The ID's latest run as the read models' events show it (NOT_FOUND without one). */
  const source = async (workflowId: string) => {
    assertWorkflowId(workflowId);
    // Only the latest run's events: an ID continued as new many times holds many runs.
    const latest = await db.db
      .selectFrom("weft_events")
      .select((eb) => eb.fn.max("seq").as("seq"))
      .where("workflow_id", "=", workflowId)
      .where("type", "=", "WorkflowStarted")
      .executeTakeFirst();
    const rows = await eventsOf(db, workflowId, Number(latest?.seq ?? 1) - 1);
    const events: HistoryEvent[] = rows.map((row) => ({
      workflowId,
      seq: row.seq,
      at: row.at.getTime(),
      body: row.body as EventBody,
    }));
    return sourceRun(workflowId, events);
  };

  const startNewRun = async (
    workflowId: string,
    toStepSeq: number | null | "failed",
    options: NewRunOptions,
  ) => {
    const run = await source(workflowId);
    if (toStepSeq === "failed") {
      if (run.status === "open") throw new RunOpenError(workflowId, "open", "a reset");
      toStepSeq = failedStepOf(run);
    }
    const command =
      toStepSeq === null ? rerunCommand(run, options) : resetCommand(run, toStepSeq, options);
    const { waitingForDecider } = await checkStartable(db, run.workflowType);
    await commands.send(command);
    return {
      workflowId: command.workflowId,
      sourceWorkflowId: workflowId,
      requestId: command.body.requestId,
      reusedSteps: command.body.reset?.steps.length ?? 0,
      waitingForDecider,
    };
  };

  const bulk = (
    args: BulkArgs,
    openOnly: boolean,
    operation: (workflowId: string, requestId: string) => Promise<string | null>,
  ): Promise<BulkResult> => {
    const requestId = args.requestId ?? randomUUID();
    if (requestId.trim() === "" || requestId.length > 200)
      throw new InvalidInputError("a request ID is 1 to 200 characters");
    const filter = checkFilter({ ...args.filter, status: args.filter.status?.toLowerCase() });
    return runBulk(
      db,
      { filter, openOnly, limit: args.limit },
      { dryRun: args.dryRun, requestId },
      operation,
    );
  };

  return {
    Mutation: {
      terminateWorkflow: (
        _root,
        args: { workflowId: string; reason?: string | null; requestId?: string | null },
      ) => withErrorCodes(() => terminate(args.workflowId, args.reason, args.requestId)),
      rerunWorkflow: (
        _root,
        args: { workflowId: string; newWorkflowId?: string | null; requestId?: string | null },
      ) =>
        withErrorCodes(() =>
          startNewRun(args.workflowId, null, {
            workflowId: args.newWorkflowId ?? undefined,
            requestId: args.requestId ?? undefined,
          }),
        ),
      resetWorkflow: (
        _root,
        args: {
          workflowId: string;
          toStepSeq: number;
          newWorkflowId?: string | null;
          requestId?: string | null;
        },
      ) =>
        withErrorCodes(() =>
          startNewRun(args.workflowId, args.toStepSeq, {
            workflowId: args.newWorkflowId ?? undefined,
            requestId: args.requestId ?? undefined,
          }),
        ),
      terminateWorkflows: (_root, args: BulkArgs) =>
        withErrorCodes(() =>
          bulk(args, true, async (workflowId, requestId) => {
            await terminate(workflowId, args.reason, requestId);
            return null;
          }),
        ),
      rerunWorkflows: (_root, args: BulkArgs) =>
        withErrorCodes(() =>
          bulk(
            args,
            false,
            async (workflowId, requestId) =>
              (await startNewRun(workflowId, null, { requestId })).workflowId,
          ),
        ),
      resetWorkflows: (_root, args: BulkArgs) =>
        withErrorCodes(() =>
          bulk(
            args,
            false,
            async (workflowId, requestId) =>
              (await startNewRun(workflowId, "failed", { requestId })).workflowId,
          ),
        ),
    },
  };
}
