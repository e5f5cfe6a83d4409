import type { RetryPolicy } from "../core/retry";

/** Per-call overrides of a step's policy. */
export interface StepOptions {
  retry?: RetryPolicy;
  /** Start-to-close limit of one attempt; the attempt fails with STEP_TIMEOUT past it. */
  timeoutMs?: number;
  /** Task queue (`weft.tasks.<queue>`) whose workers run the step. */
  taskQueue?: string;
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
  /** Aborted when the attempt times out or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Extends the attempt's lease; call it from long steps. */
  heartbeat(): Promise<void>;
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
export type StepInput<D> = D extends StepDefinition<infer I, unknown> ? I : never;
export type StepOutput<D> = D extends StepDefinition<unknown, infer O> ? Awaited<O> : never;

export interface WaitForSignalOptions {
  /** Resolve with `undefined` when no signal arrives within this time. */
  timeoutMs?: number;
}

/** The only door from workflow code to the outside world. Everything on it is replay-safe. */
export interface WorkflowContext {
  readonly workflowId: string;
  readonly workflowType: string;
  /** Runs a step on a worker and resolves with its result (recorded once in history). */
  step<D extends AnyStepDefinition>(
    step: D,
    input: StepInput<D>,
    options?: StepOptions,
  ): Promise<StepOutput<D>>;
  step<O = unknown>(
    step: string | AnyStepDefinition,
    input?: unknown,
    options?: StepOptions,
  ): Promise<O>;
  /** A durable timer: survives restarts; resolves after `ms`. */
  wait(ms: number): Promise<void>;
  /** Alias of `wait`. */
  sleep(ms: number): Promise<void>;
  /** Resolves with the next signal of that name, or `undefined` after `timeoutMs`. */
  waitForSignal<T = unknown>(name: string, options?: WaitForSignalOptions): Promise<T | undefined>;
  /** The time of the event being processed: stable across replays. Use instead of Date.now(). */
  now(): number;
  /** Seeded per run: stable across replays. Use instead of Math.random(). */
  random(): number;
  /** A random UUID (v4 layout) from the run's seeded generator. */
  uuid(): string;
}

export type WorkflowFunction<I, O> = (ctx: WorkflowContext, input: I) => Promise<O>;

export interface WorkflowOptions {
  /** Defaults for every step this workflow runs; a step's own policy overrides it. */
  retry?: RetryPolicy;
  taskQueue?: string;
  stepTimeoutMs?: number;
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

export function defineWorkflow<I = unknown, O = unknown>(
  name: string,
  fn: WorkflowFunction<I, O>,
  options: WorkflowOptions = {},
): WorkflowDefinition<I, O> {
  checkName("workflow", name);
  if (typeof fn !== "function")
    throw new TypeError(`workflow ${name}: the body must be a function`);
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
  return Object.freeze({ kind: "step", name, handler, options: Object.freeze({ ...options }) });
}
