/**
 * The rows the projector writes, named as the columns of migrations/ (0001 and 0003).
 * Times are ISO-8601 strings taken from events, never the clock: a replay gives the same rows.
 */
import type { HistoryEvent } from "../schemas/types";
import type { RawJson } from "./sql-json";

/** 'pending' rows come from StartWorkflow commands; history never produces that status. */
export type RunStatus = "pending" | "running" | "blocked" | "completed" | "failed" | "cancelled";
export type AttemptStatus =
  "scheduled" | "started" | "completed" | "failed" | "timed_out" | "cancelled";
export type TimerKind = "sleep" | "signal_timeout" | "retry" | "step_timeout";
export type TimerStatus = "pending" | "fired" | "cancelled";

/** One thing a run waits on now; `weft_runs.waiting_on` is a list of these. */
export type WaitItem =
  | {
      kind: "step";
      stepSeq: number;
      stepName: string;
      taskQueue: string;
      attempt: number;
      timeoutMs: number | null;
      state: "scheduled" | "started";
      /** When the attempt was scheduled. */
      since: string;
      startedAt?: string;
      workerId?: string;
    }
  | {
      kind: "retry";
      stepSeq: number;
      stepName: string;
      taskQueue: string;
      nextAttempt: number;
      /** When the failed attempt failed. */
      since: string;
      dueAt: string | null;
    }
  | { kind: "timer"; timerSeq: number; since: string; dueAt: string }
  | { kind: "signal"; waitSeq: number; signalName: string; since: string; dueAt: string | null }
  /** A child run the code awaits (ctx.child, or a ctx.startChild handle not yet closed). */
  | {
      kind: "child";
      childSeq: number;
      childWorkflowId: string;
      workflowType: string;
      since: string;
    };

/** A signal received that no waitForSignal has taken yet. */
export interface BufferedSignal {
  seq: number;
  name: string;
}

/** The part of a `weft_runs` row the projector reads back to carry on from one batch to the next. */
export interface RunState {
  workflowId: string;
  status: RunStatus;
  lastSeq: number;
  waitingOn: WaitItem[];
  bufferedSignals: BufferedSignal[];
  blockedCode: string | null;
  blockedReason: string | null;
  /** 1 for the workflow ID's first run; one more for each run continued as new. */
  runNumber: number;
}

export interface RunInsertRow {
  workflow_id: string;
  workflow_type: string;
  status: RunStatus;
  input: RawJson;
  result: RawJson | null;
  error: unknown;
  idempotency_key: string | null;
  blocked_code: string | null;
  blocked_reason: string | null;
  waiting_on: WaitItem[];
  buffered_signals: BufferedSignal[];
  started_at: string;
  closed_at: string | null;
  last_seq: number;
  updated_at: string;
  run_number: number;
  run_start_seq: number;
  /** What the run last published with ctx.setState; null when it set none. */
  state: RawJson | null;
  /** The registered hash of the definition the run started under; null when not recorded. */
  definition_hash: string | null;
  /** The run that started this one as its child (ctx.child); null otherwise. */
  parent_workflow_id: string | null;
}

/**
 * An existing run: its state columns are set; result, error and closed_at only when given;
 * `state` only when `state_set` is 1 (the batch held a StateUpdated: the state may be JSON null).
 */
export type RunUpdateRow = Omit<
  RunInsertRow,
  | "workflow_type"
  | "input"
  | "idempotency_key"
  | "started_at"
  | "run_number"
  | "run_start_seq"
  | "definition_hash"
  | "parent_workflow_id"
> & { state_set: 0 | 1 };

export interface EventRow {
  workflow_id: string;
  seq: number;
  type: string;
  at: string;
  body: object;
}

export interface AttemptRow {
  workflow_id: string;
  step_seq: number;
  attempt: number;
  step_name: string;
  task_queue: string;
  status: AttemptStatus;
  worker_id: string | null;
  timeout_ms: number | null;
  scheduled_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: unknown;
  result: RawJson | null;
}

/** An attempt scheduled in an earlier batch: null leaves a column as it is. */
export interface AttemptPatch {
  workflow_id: string;
  step_seq: number;
  attempt: number;
  status: AttemptStatus;
  worker_id: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
  result: RawJson | null;
}

export interface TimerRow {
  workflow_id: string;
  kind: TimerKind;
  seq: number;
  attempt: number;
  due_at: string;
  fired_at: string | null;
  status: TimerStatus;
}

/** A timer started in an earlier batch that fired or was cancelled. */
export type TimerPatch = Omit<TimerRow, "due_at">;

export interface SignalRow {
  workflow_id: string;
  seq: number;
  name: string;
  payload: RawJson;
  request_id: string;
  received_at: string;
  wait_seq: number | null;
}

/** A signal received in an earlier batch that a wait has now taken. */
export interface SignalPatch {
  workflow_id: string;
  seq: number;
  wait_seq: number;
}

/** Everything one batch of events changes, ready for multi-row statements. */
export interface ProjectionChanges {
  runInserts: RunInsertRow[];
  runUpdates: RunUpdateRow[];
  /** Rows handed to a run continued as new: every column replaced. */
  runRestarts: RunInsertRow[];
  events: EventRow[];
  attemptInserts: AttemptRow[];
  attemptUpdates: AttemptPatch[];
  timerUpserts: TimerRow[];
  timerUpdates: TimerPatch[];
  signalInserts: SignalRow[];
  signalUpdates: SignalPatch[];
  /** The events applied (duplicates and orphans left out), in order. */
  applied: HistoryEvent[];
}

/** A run whose StartWorkflow command was seen: inserted only where the run has no row yet. */
export type PendingRunRow = Omit<RunInsertRow, "status"> & { status: "pending" };

export type DefinitionKind = "workflow" | "step";

/** A version of a workflow or step type; first_seen and last_seen widen on conflict. */
export interface DefinitionRow {
  kind: DefinitionKind;
  name: string;
  hash: string;
  task_queue: string | null;
  retry: RawJson | null;
  timeout_ms: number | null;
  first_seen: string;
  last_seen: string;
}

/** A process's latest registration: it replaces the row. */
export interface ProcessRow {
  process_id: string;
  roles: string[];
  host: string;
  pid: number;
  queues: string[];
  workflows: string[];
  steps: string[];
  definitions: string[];
  in_flight: number;
  concurrency: number | null;
  interval_ms: number;
  started_at: string;
  last_seen: string;
  stopped_at: string | null;
}

/** Everything one batch of registrations changes. */
export interface RegistrationChanges {
  definitions: DefinitionRow[];
  processes: ProcessRow[];
}

/**
 * Epoch milliseconds (of an event or record) as an ISO-8601 UTC time (timestamptz input); a time
 * out of range fails the batch.
 */
export function iso(ms: number, what: "event" | "record" = "record"): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw new RangeError(`${what} time ${ms} is not a valid time`);
  return date.toISOString();
}

/** One attempt's step log (weft_step_logs). */
export interface StepLogRow {
  workflow_id: string;
  step_seq: number;
  attempt: number;
  step_name: string;
  worker_id: string;
  at: string;
  lines: StepLogLineJson[];
  dropped: number;
}

/** A line as stored and served: fields parsed (an object), `at` ISO-8601. */
export interface StepLogLineJson {
  level: string;
  message: string;
  fields: unknown;
  at: string;
}
