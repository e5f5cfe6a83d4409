import { ConfigError } from "../core/errors";
import type { RetryPolicy } from "../core/retry";
import type { ParentClosePolicy } from "../schemas/types";

export type { ParentClosePolicy } from "../schemas/types";

/** How `ctx.child` / `ctx.startChild` start a child run. */
export interface ChildOptions {
  /**
   * The child's workflow ID. Default `<parentWorkflowId>/<seq>` (the call's seq): the same on
   * every replay, so a replayed or repeated start never makes a second child. An ID that
   * already names another run is refused (CHILD_WORKFLOW_ID_IN_USE).
   */
  workflowId?: string;
  /**
   * What the child gets if this run closes (completes, fails, is cancelled, continues as new)
   * while the child is still open: `cancel` (the default: a cancel request, its code may clean
   * up), `terminate` (it closes cancelled at once, its cleanup not run) or `abandon` (nothing:
   * it runs on by itself).
   */
  parentClosePolicy?: ParentClosePolicy;
}

/** A child run started by `ctx.startChild`: await `result()` where the parent needs it. */
export interface ChildHandle<O = unknown> {
  readonly workflowId: string;
  /**
   * The child's result once it completes; rejects with ChildWorkflowFailedError
   * (CHILD_WORKFLOW_FAILED) when it fails, is cancelled or could not start. Cancellable like
   * any ctx operation: a cancel of this run rejects it (outside `ctx.nonCancellable`).
   */
  result(): Promise<O>;
}

/**
 * A scope of workflow code the code itself can cancel (`ctx.cancellable`): part of a run, such
 * as a step raced against a signal or a timer, stopped while the rest goes on.
 */
export interface CancellationScope<T = unknown> {
  /**
   * Cancels the scope: every ctx operation made in it (or in a scope inside it, unless a
   * `ctx.nonCancellable` shields it) that is still pending rejects at once with
   * ScopeCancelledError (SCOPE_CANCELLED), and each made in it later rejects as it is called.
   * The decider records each cancel in history and stops what runs for it: a running step
   * attempt's `step.signal` aborts, a timer or a signal wait's timeout never fires, a child
   * gets its parent-close policy. A decision of the code like a step call: a replay must make
   * it at the same point. Only the first call counts. `reason`: at most 1,024 characters.
   * Bound to its scope: it may be passed around on its own (`onSignal("stop", () => cancel())`).
   */
  cancel(this: void, reason?: string): void;
  /** Whether a cancel reaches the scope: its own, an enclosing scope's or the run's. */
  readonly cancelRequested: boolean;
  /**
   * What the scope's function returned; rejects with what it threw (a ScopeCancelledError it
   * let through, when the scope was cancelled).
   */
  result(this: void): Promise<T>;
}

/** Per-call overrides of a step's policy. */
export interface StepOptions {
  retry?: RetryPolicy;
  /** Start-to-close limit of one attempt; the attempt fails with STEP_TIMEOUT past it. */
  timeoutMs?: number;
  /** Task queue (`weft.tasks.<queue>`) whose workers run the step. */
  taskQueue?: string;
  /**
   * An attempt that goes this long without `step.heartbeat()` (from its start, then from its
   * last heartbeat) is taken as lost: it fails with STEP_HEARTBEAT_TIMEOUT and is retried per
   * the retry policy, where `step.lastHeartbeatDetails` has what it last heartbeated.
   */
  heartbeatTimeoutMs?: number;
  /**
   * An attempt no worker has started this long after it was scheduled fails with
   * STEP_SCHEDULE_TO_START_TIMEOUT and is retried per the retry policy.
   */
  scheduleToStartTimeoutMs?: number;
}

/** The levels of a step's log lines, least severe first. */
export type StepLogLevel = "debug" | "info" | "warn" | "error";

/**
 * A step's log: each line goes to the worker's log (with the workflow ID, step seq and attempt)
 * and is kept with the attempt, shown next to it by the API, the CLI, the dashboard and the
 * test kit. Kept out of history: the worker sends an attempt's lines once it ends, on a topic
 * of their own. An attempt keeps at most 100 lines (64 KiB, 8 KiB a line; longer ones are cut),
 * then counts what it dropped.
 */
export interface StepLog {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a step handler gets besides its input. */
export interface StepContext {
  readonly workflowId: string;
  readonly workflowType: string;
  readonly stepName: string;
  readonly stepSeq: number;
  readonly attempt: number;
  /** `<workflowId>/<stepSeq>`: stable across attempts; pass it to external systems. */
  readonly idempotencyKey: string;
  /**
   * Aborted when the attempt times out, the worker shuts down, or the run is cancelled while
   * the attempt runs (`signal.reason` is then a StepCancelledError; whatever the handler then
   * throws fails the attempt for good, and a result it still returns is recorded).
   */
  readonly signal: AbortSignal;
  /**
   * Extends the attempt's lease; call it from long steps. With a `heartbeatTimeoutMs`, it also
   * tells the decider the attempt is alive (at most twice per timeout, the latest details
   * winning), and `details` (JSON, at most 64 KiB) reach the step's next attempt as
   * `lastHeartbeatDetails`. Throws InvalidInputError (INVALID_INPUT) for details that are not
   * JSON or too large.
   */
  heartbeat(details?: unknown): Promise<void>;
  /**
   * What an earlier attempt of this step last heartbeated (`step.heartbeat(details)`), as the
   * decider recorded it: where to resume. Undefined when no attempt heartbeated details.
   */
  readonly lastHeartbeatDetails: unknown;
  /** Lines kept with this attempt (`step.log.info("charged", { amount })`). */
  readonly log: StepLog;
}

export type StepHandler<I, O> = (input: I, step: StepContext) => Promise<O> | O;

export interface StepDefinition<I = unknown, O = unknown> {
  readonly kind: "step";
  readonly name: string;
  readonly handler: StepHandler<I, O>;
  readonly options: Readonly<StepOptions>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- definitions of any shape go in one list */
export type AnyStepDefinition = StepDefinition<any, any>;
export type AnyWorkflowDefinition = WorkflowDefinition<any, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */
/*
 * What a step definition takes and resolves with. Each infers one parameter and leaves the other
 * open (`any`): a handler's input is a parameter, so under `strictFunctionTypes` a
 * `StepDefinition<{ email: string }, O>` is not a `StepDefinition<unknown, O>`, and matching
 * against `unknown` would make the result `never`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the parameter not inferred is open */
export type StepInput<D> = D extends StepDefinition<infer I, any> ? I : never;
export type StepOutput<D> = D extends StepDefinition<any, infer O> ? Awaited<O> : never;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** A step call's arguments after the definition: the input is optional only if it may be `undefined`. */
export type StepArguments<I> = undefined extends I
  ? [input?: I, options?: StepOptions]
  : [input: I, options?: StepOptions];

export interface WaitForSignalOptions {
  /** Resolve with `undefined` when no signal arrives within this time. */
  timeoutMs?: number;
}

export interface ConditionOptions {
  /** Resolve with `false` when the predicate has not held within this time (a durable timer). */
  timeoutMs?: number;
}

/**
 * Called with a signal's payload, in history order. Runs as workflow code: it may change the
 * run's variables, call `ctx.setState`, and call ctx operations; what it throws (or its promise
 * rejects with) fails the run.
 */
export type SignalHandler<T = unknown> = (payload: T) => void | Promise<void>;

/** The only door from workflow code to the outside world. Everything on it is replay-safe. */
export interface WorkflowContext {
  readonly workflowId: string;
  readonly workflowType: string;
  /**
   * Runs a step on a worker and resolves with its result (recorded once in history). Given the
   * definition, `input` is checked against the handler's input (and may be left out only when
   * the handler accepts `undefined`), and the result has the handler's awaited return type.
   */
  step<D extends AnyStepDefinition>(
    step: D,
    ...args: StepArguments<StepInput<D>>
  ): Promise<StepOutput<D>>;
  /**
   * A step whose handler takes `unknown` (an echo, a generic adapter), with the result type the
   * caller names: `ctx.step<{ n: number }>(echo, { n: 1 })`. A step with a typed input never
   * matches this form, so its input is always checked.
   */
  step<O>(
    step: StepDefinition<unknown, unknown>,
    input?: unknown,
    options?: StepOptions,
  ): Promise<O>;
  /** By name (a step this code does not import): input and result are not checked. */
  step<O = unknown>(step: string, input?: unknown, options?: StepOptions): Promise<O>;
  /**
   * Starts `workflow` as a child run and resolves with its result; rejects with
   * ChildWorkflowFailedError (CHILD_WORKFLOW_FAILED) when the child fails, is cancelled or
   * could not start. Recorded in history (ChildWorkflowScheduled, then ChildWorkflowCompleted
   * or ChildWorkflowFailed), so it survives restarts like a step. By name, the input and
   * result are not checked.
   */
  child<I, O>(
    workflow: WorkflowDefinition<I, O>,
    input: I,
    options?: ChildOptions,
  ): Promise<Awaited<O>>;
  child<O = unknown>(workflow: string, input?: unknown, options?: ChildOptions): Promise<O>;
  /**
   * Starts `workflow` as a child run without waiting for it: resolves at once with a handle
   * whose `result()` waits (children run in parallel: start them, then await their results).
   */
  startChild<I, O>(
    workflow: WorkflowDefinition<I, O>,
    input: I,
    options?: ChildOptions,
  ): Promise<ChildHandle<Awaited<O>>>;
  startChild<O = unknown>(
    workflow: string,
    input?: unknown,
    options?: ChildOptions,
  ): Promise<ChildHandle<O>>;
  /** A durable timer: survives restarts; resolves after `ms`. */
  wait(ms: number): Promise<void>;
  /** Alias of `wait`. */
  sleep(ms: number): Promise<void>;
  /**
   * Resolves with the next signal of that name, or `undefined` after `timeoutMs`. A wait open
   * when a signal arrives takes it before any `onSignal` handler of the name.
   */
  waitForSignal<T = unknown>(name: string, options?: WaitForSignalOptions): Promise<T | undefined>;
  /**
   * Calls `handler` for each signal of that name, in history order, synchronously as it is
   * delivered. Signals of the name that arrived before (and that no `waitForSignal` took) are
   * handed to it at once, in order. A `waitForSignal` of the name open when a signal arrives
   * takes that signal instead. Registering again replaces the handler.
   */
  onSignal<T = unknown>(name: string, handler: SignalHandler<T>): void;
  /**
   * Resolves with `true` once `predicate` holds: checked now, then again each time the code has
   * run (after a signal handler, a step result, a timer…). With `timeoutMs`, resolves with
   * `false` when it has not held by then (a durable timer, recorded as `sleep`'s is). The
   * predicate must only read the run's own variables: it is not recorded, only re-run.
   */
  condition(predicate: () => boolean, options?: ConditionOptions): Promise<boolean>;
  /**
   * Publishes the run's state (any JSON value, at most 64 KiB): recorded in history as a
   * StateUpdated event after the decision in which it changed (only when it changed), kept on
   * the run's row (`workflow(id) { state }`, pushed by `workflowUpdated`), read by
   * `client.getState` and `env.stateOf`. Throws StateTooLargeError (STATE_TOO_LARGE) over the
   * limit, before anything is recorded. Replay does not match it against a call: the code sets
   * it again as it replays, so adding or changing `setState` never breaks running workflows.
   */
  setState(value: unknown): void;
  /**
   * Runs `fn` so that a cancel of the run does not reach the ctx operations it makes: where a
   * saga's compensations go. Outside it, once the run is cancelled, every pending ctx
   * operation rejects with WorkflowCancelledError (where the code awaits it) and every new one
   * rejects as it is called. Inside it, steps, timers and signal waits run and are awaited as
   * usual, durably. Whether an operation is cancellable is fixed when it is called.
   */
  nonCancellable<T>(fn: () => Promise<T> | T): Promise<T>;
  /**
   * Runs `fn` in a cancellation scope of its own and returns its handle at once (no await):
   * `scope.cancel(reason)`, from anywhere in the code (after a signal, a timer in a
   * `Promise.race`), rejects the ctx operations made in it that are pending with
   * ScopeCancelledError and stops what runs for them, while the rest of the run goes on; await
   * `scope.result()` for what `fn` returned. `fn` gets the same handle. A cancel of the run
   * reaches inside too (WorkflowCancelledError), and a `ctx.nonCancellable` inside shields
   * its operations from both. Nothing is recorded for the scope itself, only for each cancel:
   * wrapping existing calls in a scope does not change how running workflows replay.
   */
  cancellable<T>(fn: (scope: CancellationScope<T>) => Promise<T> | T): CancellationScope<T>;
  /** Whether a cancel of this run has been requested (as of the event being processed). */
  isCancelRequested(): boolean;
  /** The time of the event being processed: stable across replays. Use instead of Date.now(). */
  now(): number;
  /** Seeded per run: stable across replays. Use instead of Math.random(). */
  random(): number;
  /** A random UUID (v4 layout) from the run's seeded generator. */
  uuid(): string;
  /**
   * Versioning of workflow code: true where the run takes the code's new branch. A run that
   * reaches the call live records a PatchMarked event and gets true; a run replaying history
   * recorded before the patch (no marker where it called) gets false, so it replays its old
   * branch. Once true in a run, true for the rest of it. Remove the old branch later with
   * `deprecatePatch`.
   */
  patched(patchId: string): boolean;
  /**
   * Marks a patch whose old branch is gone: records the marker as `patched` does (so code rolled
   * back to `patched` still takes the new branch), and replays histories with or without it.
   * Once no run from before the patch is open, remove this call too.
   */
  deprecatePatch(patchId: string): void;
  /**
   * Closes this run and starts a new one under the same workflow ID with `input`, the same
   * workflow type and a history of its own: how a run that loops for ever (a subscription, a
   * poller, an entity) keeps its history, and its replays, short. Never resolves: the code
   * after it does not run. `client.result` waits for the last run of the chain.
   */
  continueAsNew(input?: unknown): Promise<never>;
  /** About this run, as of the event being processed (stable across replays). */
  readonly info: WorkflowInfo;
}

export interface WorkflowInfo {
  /**
   * The history seq of this run's WorkflowStarted: 1 for a workflow ID's first run, higher for
   * a run continued from an earlier one (the runs of a workflow ID share one history).
   */
  readonly runStartSeq: number;
  /** Events of this run so far, its WorkflowStarted included. */
  readonly historyLength: number;
  /**
   * True once `historyLength` reaches the workflow's `continueAsNewAfter`: time to call
   * `continueAsNew` at the next point where the run's state fits in an input.
   */
  readonly continueAsNewSuggested: boolean;
}

export type WorkflowFunction<I, O> = (ctx: WorkflowContext, input: I) => Promise<O>;

export interface WorkflowOptions {
  /** Defaults for every step this workflow runs; a step's own policy overrides it. */
  retry?: RetryPolicy;
  taskQueue?: string;
  stepTimeoutMs?: number;
  /**
   * The run fails with WORKFLOW_TIMEOUT if it is still open this long after its start (a
   * durable timer of the decider; a chain of runs continued as new counts from the first
   * run's start). Default: none.
   */
  executionTimeoutMs?: number;
  /**
   * History length (events of one run) from which `ctx.info.continueAsNewSuggested` is true.
   * Default 10,000: replaying a run costs time in its length each time its execution is
   * rebuilt, and its changelog record grows with it.
   */
  continueAsNewAfter?: number;
  /**
   * How a person tries the workflow: `weft dev` and `weft start` suggest starting a run with
   * this input and print the note. The engine does nothing else with it.
   */
  example?: WorkflowExample;
}

export interface WorkflowExample {
  /** An input that fits the workflow (JSON). */
  input?: unknown;
  /** A line on what a run does and what to try, e.g. the signals it waits for. */
  note?: string;
}

export interface WorkflowDefinition<I = unknown, O = unknown> {
  readonly kind: "workflow";
  readonly name: string;
  readonly fn: WorkflowFunction<I, O>;
  readonly options: Readonly<WorkflowOptions>;
}

const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

function checkName(kind: string, name: string): void {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(
      `${kind} name ${JSON.stringify(name)} is invalid: start with a letter, then up to 99 of [A-Za-z0-9._-]`,
    );
  }
}

/**
 * Refuses a duration option that is not a positive, finite number of milliseconds, naming the
 * option: a zero or NaN limit would fail every run or attempt at once.
 */
function checkDuration(owner: string, option: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
    throw new ConfigError(
      `${owner}: ${option} must be a positive number of milliseconds, got ${String(value)}`,
    );
}

/** Checks a step's timeouts, in its definition or in the options of one `ctx.step` call. */
export function checkStepTimeouts(owner: string, options: StepOptions): void {
  checkDuration(owner, "timeoutMs", options.timeoutMs);
  checkDuration(owner, "heartbeatTimeoutMs", options.heartbeatTimeoutMs);
  checkDuration(owner, "scheduleToStartTimeoutMs", options.scheduleToStartTimeoutMs);
}

export function defineWorkflow<I = unknown, O = unknown>(
  name: string,
  fn: WorkflowFunction<I, O>,
  options: WorkflowOptions = {},
): WorkflowDefinition<I, O> {
  checkName("workflow", name);
  if (typeof fn !== "function")
    throw new TypeError(`workflow ${name}: the body must be a function`);
  checkDuration(`workflow ${name}`, "executionTimeoutMs", options.executionTimeoutMs);
  return Object.freeze({ kind: "workflow", name, fn, options: Object.freeze({ ...options }) });
}

export function defineStep<I = unknown, O = unknown>(
  name: string,
  handler: StepHandler<I, O>,
  options: StepOptions = {},
): StepDefinition<I, O> {
  checkName("step", name);
  if (typeof handler !== "function")
    throw new TypeError(`step ${name}: the handler must be a function`);
  if (options.taskQueue !== undefined) checkName("task queue", options.taskQueue);
  checkStepTimeouts(`step ${name}`, options);
  return Object.freeze({ kind: "step", name, handler, options: Object.freeze({ ...options }) });
}
