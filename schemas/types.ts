/**
 * TypeScript view of the wire contract in the .avsc files beside this one.
 * Payloads (inputs, results, signal payloads) travel as JSON text: Weft never interprets them.
 */

export type JsonText = string;

/**
 * The most a heartbeat's details (`step.heartbeat(details)`) may take as JSON: the decider keeps
 * them with the step in flight and hands them to every later attempt's task.
 */
export const MAX_HEARTBEAT_DETAILS_BYTES = 64 * 1024;

export interface ErrorInfo {
  name: string;
  message: string;
  stack: string | null;
  /** A terminal error is never retried. */
  terminal: boolean;
  code: string | null;
}

/**
 * Whether a start whose workflow ID names a closed run starts a new run under it (an open run
 * always takes the start as a duplicate):
 * - rejectDuplicate (the default): never; the start is the closed run's duplicate.
 * - allowAfterClose: yes, whatever the closed run's outcome.
 * - allowAfterFailure: only when the closed run failed or was cancelled.
 */
export type IdReusePolicy = "rejectDuplicate" | "allowAfterClose" | "allowAfterFailure";
export const ID_REUSE_POLICIES: readonly IdReusePolicy[] = [
  "rejectDuplicate",
  "allowAfterClose",
  "allowAfterFailure",
];

/**
 * Whether a start with this policy makes a new run under the ID of a run closed with this
 * status (completed, failed or cancelled): the decider's rule, which front ends that wait for
 * the new run follow too.
 */
export function reusesClosedId(policy: IdReusePolicy | null | undefined, status: string): boolean {
  if (policy === "allowAfterClose") return true;
  if (policy === "allowAfterFailure") return status === "failed" || status === "cancelled";
  return false;
}

export type CommandBody =
  | {
      type: "StartWorkflow";
      workflowType: string;
      input: JsonText;
      idempotencyKey: string | null;
      requestId: string;
      /** Null (records before v2 too): rejectDuplicate. */
      idReusePolicy?: IdReusePolicy | null;
      /**
       * signalWithStart (v3): recorded as a SignalReceived (with `requestId`) right after the
       * WorkflowStarted, or, when the ID names an open run, for that run instead of a start.
       * Null in plain starts and in records before v3.
       */
      signal?: StartSignal | null;
      /**
       * This run's execution timeout (v4), over the workflow's `executionTimeoutMs`. Null or
       * absent: the workflow's.
       */
      executionTimeoutMs?: number | null;
      /** A reset of another run to a step (v5): copied into the run's WorkflowStarted. */
      reset?: ResetFrom | null;
      /**
       * The parent run whose `ctx.child` call this start comes from (v5), sent by the parent's
       * decider; null or absent for any other start.
       */
      parent?: ParentLink | null;
    }
  /** `requestId` names the request: a decider records a run's signal or cancel once per ID. */
  | { type: "SignalWorkflow"; signalName: string; payload: JsonText; requestId: string }
  | {
      type: "CancelWorkflow";
      reason: string | null;
      requestId: string;
      /**
       * v5: terminate: the run closes cancelled at once, its code not run (no cleanup), and its
       * running steps are told to stop (also a parent's close with the `terminate` policy). False
       * or absent (records before v5): a cancel.
       */
      terminate?: boolean;
    }
  | {
      type: "ReportStepStarted";
      stepSeq: number;
      attempt: number;
      workerId: string;
      /** The worker's clock when the attempt began to run. */
      startedAt: number;
    }
  | {
      type: "ReportStepCompleted";
      stepSeq: number;
      attempt: number;
      workerId: string;
      result: JsonText;
      /**
       * When the attempt's start went with its result (no started report before it: the step
       * ended within the worker's hold of that report), the worker's clock when it began to
       * run; the decider records the start first. Carried in the record's header, not its Avro
       * body (STEP_STARTED_AT_HEADER). Absent: a started report went before, or the attempt
       * never ran (an unknown step, bad input, cancelled before it ran).
       */
      startedAt?: number | null;
    }
  | {
      type: "ReportStepFailed";
      stepSeq: number;
      attempt: number;
      workerId: string;
      error: ErrorInfo;
      /** As ReportStepCompleted's. */
      startedAt?: number | null;
    }
  /** `step.heartbeat(details)` of a running attempt, throttled by its worker (v4). */
  | {
      type: "ReportStepHeartbeat";
      stepSeq: number;
      attempt: number;
      workerId: string;
      /** JSON of the details (at most 64 KiB), or null. */
      details: JsonText | null;
    }
  /**
   * A child run closed (v5): sent by the child's decider, in the transaction that closed it, to
   * the parent's partition (the command's workflowId is the parent's). Recorded once per child.
   */
  | {
      type: "ReportChildClosed";
      childSeq: number;
      childWorkflowId: string;
      status: ChildCloseStatus;
      /** JSON result of a completed child; null otherwise. */
      result: JsonText | null;
      /** Why it did not complete; null for a completed child. */
      error: ErrorInfo | null;
    };

/** A step result a reset run takes from the run it resets instead of running the step. */
export interface ReusedStep {
  stepSeq: number;
  stepName: string;
  result: JsonText;
}

/**
 * Where a reset run comes from (command v5, history v7): the source run, the step it runs
 * again, and the results of the steps before it that completed there. Carried whole in the
 * start, then in WorkflowStarted, so the new run replays from its own history alone (the
 * source's history may be gone by then).
 */
export interface ResetFrom {
  sourceWorkflowId: string;
  /** The seq of the source run's WorkflowStarted. */
  sourceRunStartSeq: number;
  toStepSeq: number;
  steps: ReusedStep[];
}

/**
 * How a child run ended, as its parent records it: `refused` when its workflow ID already named
 * another run, so it never started.
 */
export type ChildCloseStatus = "completed" | "failed" | "cancelled" | "refused";

/** What a child may get when its parent closes before it (ctx.child's `parentClosePolicy`). */
export type ParentClosePolicy = "cancel" | "terminate" | "abandon";
export const PARENT_CLOSE_POLICIES: readonly ParentClosePolicy[] = [
  "cancel",
  "terminate",
  "abandon",
];

/** The run that started a run as its child, and the seq of the call that did. */
export interface ParentLink {
  workflowId: string;
  childSeq: number;
}

/** The signal a signalWithStart delivers with (or instead of) its start. */
export interface StartSignal {
  signalName: string;
  payload: JsonText;
}

export type CommandType = CommandBody["type"];

/** Input to a decider. The Kafka key is `workflowId`. */
export interface Command {
  workflowId: string;
  sentAt: number;
  body: CommandBody;
}

export type EventBody =
  | {
      type: "WorkflowStarted";
      workflowType: string;
      input: JsonText;
      idempotencyKey: string | null;
      requestId: string | null;
      /**
       * Epoch ms past which the run fails with WORKFLOW_TIMEOUT (its workflow's
       * `executionTimeoutMs`, counted from the first run of a continue-as-new chain). Null or
       * absent (records before v6): none.
       */
      executionDeadline?: number | null;
      /**
       * v8: the execution timeout `executionDeadline` was set from (the start's, else the
       * workflow's), carried along a continue-as-new chain; null or absent (records before v8)
       * when unknown.
       */
      executionTimeoutMs?: number | null;
      /**
       * The registered hash of the definition the decider started the run with (the code's
       * version it began under); null or absent (records before v6) when unknown.
       */
      definitionHash?: string | null;
      /** v7: the run is a reset of another run; null or absent: a plain start. */
      reset?: ResetFrom | null;
      /** v7: the run that started this one as its child; null or absent otherwise. */
      parent?: ParentLink | null;
    }
  | {
      type: "StepScheduled";
      stepSeq: number;
      stepName: string;
      attempt: number;
      input: JsonText;
      taskQueue: string;
      timeoutMs: number | null;
      retryPolicy: JsonText;
      /** v6: lost unless it heartbeats at least this often (STEP_HEARTBEAT_TIMEOUT). */
      heartbeatTimeoutMs?: number | null;
      /** v6: fails when no worker started it within this (STEP_SCHEDULE_TO_START_TIMEOUT). */
      scheduleToStartTimeoutMs?: number | null;
    }
  | {
      type: "StepStarted";
      stepSeq: number;
      attempt: number;
      workerId: string;
      /** The worker's clock when the attempt began; `at` is when the decider recorded it. */
      startedAt: number;
    }
  | {
      type: "StepCompleted";
      stepSeq: number;
      attempt: number;
      workerId: string | null;
      result: JsonText;
      /**
       * v7: the workflow ID of the run whose recorded result a reset run reused (no worker ran
       * it); null or absent: a worker's result.
       */
      reusedFrom?: string | null;
    }
  | {
      type: "StepFailed";
      stepSeq: number;
      attempt: number;
      workerId: string | null;
      error: ErrorInfo;
      willRetry: boolean;
    }
  | {
      type: "StepRetryScheduled";
      stepSeq: number;
      nextAttempt: number;
      delayMs: number;
      dueAt: number;
    }
  | {
      type: "StepResultIgnored";
      stepSeq: number;
      attempt: number;
      workerId: string | null;
      outcome: string;
      reason: string;
    }
  | { type: "TimerStarted"; timerSeq: number; durationMs: number; dueAt: number }
  | { type: "TimerFired"; timerSeq: number }
  | {
      type: "SignalWaitStarted";
      waitSeq: number;
      signalName: string;
      timeoutMs: number | null;
      dueAt: number | null;
    }
  | { type: "SignalWaitTimedOut"; waitSeq: number; signalName: string }
  | { type: "SignalReceived"; signalName: string; payload: JsonText; requestId: string }
  | { type: "WorkflowCompleted"; result: JsonText }
  | { type: "WorkflowFailed"; error: ErrorInfo }
  | {
      type: "WorkflowCancelled";
      reason: string | null;
      /** The cancel command's request ID; null in records written before schema v2. */
      requestId: string | null;
      /** v7: closed by a terminate (its code not run); false or absent: by a cancel. */
      terminated?: boolean;
    }
  /**
   * The run closed by continuing as a new run under the same workflow ID: the new run's
   * WorkflowStarted (with `input`) is the next event. Schema v3.
   */
  | { type: "WorkflowContinuedAsNew"; input: JsonText }
  | { type: "WorkflowBlocked"; code: string; reason: string }
  /**
   * The run's state (`ctx.setState`) after a decision that changed it: recorded before that
   * decision's commands or closing event. Output only: replay re-derives it. Schema v4.
   */
  | { type: "StateUpdated"; state: JsonText }
  /**
   * A cancel reached the open run (schema v5): the code's pending ctx operations outside
   * `ctx.nonCancellable` reject with WorkflowCancelledError, and the run closes as its code
   * ends (WorkflowCancelled when it throws). Recorded once per run.
   */
  | { type: "WorkflowCancelRequested"; reason: string | null; requestId: string }
  /**
   * A worker's heartbeat of a running attempt (schema v6): the attempt's heartbeat timeout
   * starts again, and `details` go to the step's next attempt (`step.lastHeartbeatDetails`).
   */
  | { type: "StepHeartbeatRecorded"; stepSeq: number; attempt: number; details: JsonText | null }
  /**
   * `ctx.patched(patchId)` answered true (or `ctx.deprecatePatch`) while the code ran live
   * (schema v6). `afterEvents` is how many of the run's events the code had seen when it called:
   * a replay answers true from there on, false before, and false in a history without it.
   */
  | { type: "PatchMarked"; patchId: string; afterEvents: number; deprecated: boolean }
  /**
   * `ctx.child` / `ctx.startChild` (schema v7): the child's StartWorkflow left in the same
   * transaction. Open until its ChildWorkflowCompleted or ChildWorkflowFailed.
   */
  | {
      type: "ChildWorkflowScheduled";
      childSeq: number;
      childWorkflowId: string;
      workflowType: string;
      input: JsonText;
      parentClosePolicy: ParentClosePolicy;
    }
  /** The child completed (schema v7): `ctx.child` resolves with `result`. */
  | { type: "ChildWorkflowCompleted"; childSeq: number; childWorkflowId: string; result: JsonText }
  /**
   * The child failed, was cancelled or never started (schema v7): `ctx.child` rejects with
   * ChildWorkflowFailedError.
   */
  | {
      type: "ChildWorkflowFailed";
      childSeq: number;
      childWorkflowId: string;
      status: Exclude<ChildCloseStatus, "completed">;
      error: ErrorInfo;
    }
  /**
   * Schema v8, cancellation scopes: the code called `scope.cancel(reason)` on the
   * `ctx.cancellable` scope a pending operation was made in. Recorded after the decision in
   * which it called, one event per operation, and matched on replay like the call that made
   * it. A cancelled step is done for good (a later report is ignored; a scheduled or running
   * attempt is sent a StepCancel notice); a cancelled timer or signal wait never fires.
   */
  | { type: "StepCancelled"; stepSeq: number; attempt: number; reason: string | null }
  | { type: "TimerCancelled"; timerSeq: number; reason: string | null }
  | { type: "SignalWaitCancelled"; waitSeq: number; signalName: string; reason: string | null }
  /** The child was sent its parent-close policy; its close is still recorded when it comes. */
  | {
      type: "ChildWorkflowCancelRequested";
      childSeq: number;
      childWorkflowId: string;
      reason: string | null;
    };

export type EventType = EventBody["type"];

/** One record of a run's history. `seq` is gapless per run, starting at 1. */
export interface HistoryEvent {
  workflowId: string;
  seq: number;
  at: number;
  body: EventBody;
}

/**
 * Tells the worker running an attempt that the attempt's run was cancelled (the step is no
 * longer awaited): the step's AbortSignal aborts. On the attempt's task partition, after its
 * task; the Kafka key is `workflowId/stepSeq`.
 */
export interface StepCancel {
  workflowId: string;
  stepSeq: number;
  attempt: number;
  reason: string | null;
  requestId: string;
}

/** Asks a worker to run one attempt of a step. The Kafka key is `workflowId/stepSeq`. */
export interface StepTask {
  workflowId: string;
  workflowType: string;
  stepSeq: number;
  stepName: string;
  attempt: number;
  input: JsonText;
  idempotencyKey: string;
  timeoutMs: number | null;
  dispatchedAt: number;
  /** v2: the attempt is lost unless `step.heartbeat` is called at least this often. */
  heartbeatTimeoutMs: number | null;
  /** v2: JSON of the step's last heartbeat in an earlier attempt, or null. */
  lastHeartbeatDetails: JsonText | null;
}

export interface DeadLetter {
  sourceTopic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  reason: string;
  consumer: string;
  at: number;
}

/** A workflow or step type as a process hosts it. */
export interface DefinitionInfo {
  name: string;
  /** sha256 (first 16 hex) of the definition's code and options. */
  hash: string;
  taskQueue: string | null;
  /** The declared retry policy as JSON text; null when it declares none. */
  retry: JsonText | null;
  timeoutMs: number | null;
}

export type ProcessState = "up" | "stopped";

/** One beat of a decider and/or worker process. The Kafka key is `processId`. */
export interface Registration {
  processId: string;
  roles: string[];
  host: string;
  pid: number;
  startedAt: number;
  at: number;
  intervalMs: number;
  state: ProcessState;
  workflows: DefinitionInfo[];
  steps: DefinitionInfo[];
  queues: string[];
  inFlight: number;
  concurrency: number | null;
}

export const TERMINAL_EVENT_TYPES: ReadonlySet<EventType> = new Set([
  "WorkflowCompleted",
  "WorkflowFailed",
  "WorkflowCancelled",
]);

/** The level of a step's log line (`step.log.info(…)`). */
export type StepLogLevel = "debug" | "info" | "warn" | "error";

export interface StepLogLine {
  level: StepLogLevel;
  message: string;
  /** The line's fields as JSON text (an object), or null. */
  fields: JsonText | null;
  /** Epoch ms, by the worker's clock. */
  at: number;
}

/** One attempt's log lines, on `<prefix>.step-logs` (key = workflowId); never in history. */
export interface StepLogRecord {
  workflowId: string;
  stepSeq: number;
  attempt: number;
  stepName: string;
  workerId: string;
  /** Epoch ms the attempt ended. */
  at: number;
  lines: StepLogLine[];
  /** Lines logged beyond the attempt's bound and not kept. */
  dropped: number;
}
