/**
 * The requests about one run that the client (`WeftClient`) and the test kit
 * (`TestEnvironment`) both make, made once: each builds its command, checks the run against
 * the front end's view of the runs where the request needs an existing run, and sends it.
 */
import type { CommandProducer } from "../producers/command-producer";
import type { RunCommand } from "../producers/run-check";
import {
  resetCommand,
  rerunCommand,
  sourceRun,
  type NewRunOptions,
} from "../producers/run-operations";
import {
  cancelWorkflowCommand,
  signalWithStartCommand,
  signalWorkflowCommand,
  terminateWorkflowCommand,
  type CommandOf,
} from "../producers/workflow-commands";
import type { HistoryEvent, IdReusePolicy } from "../schemas/types";
import type { WorkflowDefinition } from "../workflow/definitions";

export interface SignalWithStartOptions<I> {
  /** The run to signal, or to start (with `input`) and then signal. */
  workflowId: string;
  signal: string;
  payload?: unknown;
  input?: I;
  /** As for `start`: whether a closed run's ID starts a new run (else the command is dropped). */
  idReusePolicy?: IdReusePolicy;
  /** Names the request: a retry with the same ID records the signal once. Default: a new UUID. */
  requestId?: string;
}

/** The command a signalWithStart sends. */
export function signalWithStartOf<I>(
  workflow: string | WorkflowDefinition<I>,
  options: SignalWithStartOptions<I>,
): CommandOf<"StartWorkflow"> {
  return signalWithStartCommand(typeof workflow === "string" ? workflow : workflow.name, {
    workflowId: options.workflowId,
    input: options.input,
    idReusePolicy: options.idReusePolicy,
    signalName: options.signal,
    payload: options.payload,
    requestId: options.requestId,
  });
}

/** A signalWithStart accepted durably. */
export interface SignalWithStartResult {
  workflowId: string;
  /** The signal's request ID, and the start's when it started the run. */
  requestId: string;
}

/** Options of a signal or cancel. */
export interface RequestOptions {
  /**
   * Names this request: a retry with the same ID is recorded once by the run. Default: a new
   * UUID, returned so that a caller can retry with it.
   */
  requestId?: string;
}

/**
 * A signal or cancel accepted durably (the command is in Kafka), or found already recorded by
 * its run (a retry with the request ID of one that got through).
 */
export interface AcceptedRequest {
  workflowId: string;
  requestId: string;
}

export abstract class RunRequests {
  /** Where commands go: `weft.commands`. */
  protected abstract readonly commands: CommandProducer;

  /** Sends a command to an existing run, once the front end's view has checked it. */
  protected abstract toRun(command: RunCommand): Promise<AcceptedRequest>;

  /** The workflow ID's history, where `rerun` and `reset` read their source run. */
  protected abstract historyOf(workflowId: string): Promise<readonly HistoryEvent[]>;

  /**
   * Sends a signal; resolves once it is durably accepted. The producer's own retries resend
   * the same command, request ID included; to retry a call that failed, pass its request ID.
   *
   * Rejects with RunNotFoundError (NOT_FOUND) when no start with that ID was acknowledged, and
   * RunClosedError (RUN_CLOSED) when the run completed, failed or was cancelled. A run whose
   * start the deciders have not applied yet is waited for, never refused (see
   * producers/run-check.ts).
   */
  async signal(
    workflowId: string,
    signalName: string,
    payload?: unknown,
    options: RequestOptions = {},
  ): Promise<AcceptedRequest> {
    return this.toRun(signalWorkflowCommand(workflowId, signalName, payload, options.requestId));
  }

  /**
   * Starts the run unless one is open under `workflowId`, and delivers the signal to it, in one
   * command the decider applies at once: a run it starts sees the signal right after its start;
   * an open run records it as any signal (once per request ID). Resolves once the command is
   * durably accepted. A closed run's ID starts a new run only as `idReusePolicy` allows; else
   * the decider drops the command.
   */
  async signalWithStart<I>(
    workflow: string | WorkflowDefinition<I>,
    options: SignalWithStartOptions<I>,
  ): Promise<SignalWithStartResult> {
    return this.sendNew(signalWithStartOf(workflow, options));
  }

  /** Cancels a run; request IDs and errors as for `signal`. */
  async cancel(
    workflowId: string,
    reason?: string,
    options: RequestOptions = {},
  ): Promise<AcceptedRequest> {
    return this.toRun(cancelWorkflowCommand(workflowId, reason, options.requestId));
  }

  /**
   * Terminates a run: it closes cancelled at once (`WorkflowCancelled` with `terminated`), its
   * code not run, so no cleanup; its running steps are told to stop. Request IDs and errors as
   * for `cancel`.
   */
  async terminate(
    workflowId: string,
    reason?: string,
    options: RequestOptions = {},
  ): Promise<AcceptedRequest> {
    return this.toRun(terminateWorkflowCommand(workflowId, reason, options.requestId));
  }

  /**
   * Starts a new run with the type and input of the workflow ID's latest run (read from its
   * history). Its ID is `options.workflowId`, or one derived from the source's and the request
   * ID (a retry with the same `requestId` is the same run); the source's own ID starts the new
   * run under it once the source has closed (RUN_OPEN before). NOT_FOUND when history has no
   * run of the ID.
   */
  async rerun(workflowId: string, options: NewRunOptions = {}): Promise<AcceptedRequest> {
    return this.sendNew(
      rerunCommand(sourceRun(workflowId, await this.historyOf(workflowId)), options),
    );
  }

  /**
   * Resets a closed run to a step: a new run (IDs as for `rerun`) whose steps before
   * `toStepSeq` that completed in the source take their recorded results instead of running;
   * that step and all after it run again. RUN_OPEN for an open run, INVALID_RESET_POINT for a
   * step seq the run never scheduled.
   */
  async reset(
    workflowId: string,
    toStepSeq: number,
    options: NewRunOptions = {},
  ): Promise<AcceptedRequest> {
    const source = sourceRun(workflowId, await this.historyOf(workflowId));
    return this.sendNew(resetCommand(source, toStepSeq, options));
  }

  /** Sends a command that may make a run: nothing to check first. */
  private async sendNew(command: CommandOf<"StartWorkflow">): Promise<AcceptedRequest> {
    await this.commands.send(command);
    return { workflowId: command.workflowId, requestId: command.body.requestId };
  }
}
