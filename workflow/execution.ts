import { DeterminismViolationError, StepFailedError, WeftError } from "../core/errors";
import { toJsonText } from "../core/json";
import type { ErrorInfo, HistoryEvent, JsonText } from "../schemas/types";
import type {
  StepDefinition,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowInfo,
} from "./definitions";
import { seededRandom, uuidFrom } from "./random";

/** What workflow code asked for that history does not hold yet. */
export type WorkflowCommand =
  | {
      kind: "step";
      seq: number;
      stepName: string;
      input: JsonText;
      options: StepOptions | undefined;
    }
  | { kind: "sleep"; seq: number; durationMs: number }
  | {
      kind: "signalWait";
      seq: number;
      signalName: string;
      timeoutMs: number | null;
      /** A buffered signal satisfied the wait at once: no timer needed. */
      satisfied: boolean;
    };

export type ExecutionOutcome =
  | { kind: "completed"; result: JsonText }
  /** `ctx.continueAsNew(input)`: the run closes and a new one starts with `input`. */
  | { kind: "continuedAsNew"; input: JsonText }
  | { kind: "failed"; error: ErrorInfo }
  | { kind: "blocked"; code: string; reason: string };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  descriptor: string;
}

/** Default of WorkflowOptions.continueAsNewAfter. */
export const CONTINUE_AS_NEW_AFTER = 10_000;

/**
 * Runs one workflow's code against its history, deterministically. Events are delivered in
 * history order; after each, every microtask the code can run is drained before the next, so
 * the code observes the same interleaving on every replay. Each call on `ctx` takes the next
 * sequence number; a scheduling event in history must match the call with that number.
 *
 * A run continued from an earlier one under the same workflow ID numbers its calls from its
 * WorkflowStarted's seq on (`startSeq` - 1 + 1, + 2, …), not from 1: step, timer and wait
 * numbers then never repeat within a workflow ID, so a late report, a done-marker or a read
 * model row of an earlier run is never taken for this run's. A first run (startSeq 1)
 * numbers them from 1, as it always has.
 */
export class WorkflowExecution {
  private seq: number;
  /** Events of this run delivered so far, its WorkflowStarted counted. */
  private delivered = 1;
  private currentTime: number;
  private readonly random: () => number;
  private readonly issued = new Map<number, { descriptor: string; command: WorkflowCommand }>();
  private readonly recorded = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private readonly bufferedSignals = new Map<string, JsonText[]>();
  private readonly signalWaiters: { seq: number; name: string }[] = [];
  private result: ExecutionOutcome | undefined;
  private violation: DeterminismViolationError | undefined;

  constructor(
    private readonly definition: WorkflowDefinition,
    readonly workflowId: string,
    private readonly input: JsonText,
    startedAt: number,
    /** The history seq of the run's WorkflowStarted (1 for a workflow ID's first run). */
    private readonly startSeq = 1,
  ) {
    this.currentTime = startedAt;
    this.seq = startSeq - 1;
    // Each run of a workflow ID draws its own numbers (ctx.uuid() must not repeat a run's).
    this.random = seededRandom(startSeq === 1 ? workflowId : `${workflowId}#${startSeq}`);
  }

  get outcome(): ExecutionOutcome | undefined {
    return this.result;
  }

  /** Where replay diverged from history, when it did. */
  get divergence(): DeterminismViolationError | undefined {
    return this.violation;
  }

  /** Calls the workflow function and lets it run until it waits on something. */
  async begin(): Promise<void> {
    const ctx = this.context();
    let input: unknown;
    try {
      input = JSON.parse(this.input) as unknown;
    } catch {
      input = undefined;
    }
    Promise.resolve()
      .then(() => this.definition.fn(ctx, input))
      .then(
        (value) => this.finish(value),
        (error) => this.fail(error),
      );
    await drain();
  }

  /** Feeds one history event to the code. */
  async deliver(event: HistoryEvent): Promise<void> {
    if (this.result?.kind === "blocked") return;
    this.currentTime = event.at;
    const body = event.body;
    if (body.type !== "WorkflowStarted") this.delivered++;
    switch (body.type) {
      case "StepScheduled":
        if (body.attempt === 1) this.match(body.stepSeq, stepDescriptor(body.stepName));
        return;
      case "TimerStarted":
        this.match(body.timerSeq, waitDescriptor());
        return;
      case "SignalWaitStarted":
        this.match(body.waitSeq, signalDescriptor(body.signalName));
        return;
      case "StepCompleted":
        this.settle(body.stepSeq, (p) => p.resolve(JSON.parse(body.result)));
        break;
      case "StepFailed":
        if (body.willRetry) return;
        this.settle(body.stepSeq, (p) =>
          p.reject(
            new StepFailedError(p.descriptor.slice(6, -1), body.attempt, {
              name: body.error.name,
              message: body.error.message,
              code: body.error.code,
            }),
          ),
        );
        break;
      case "TimerFired":
        this.settle(body.timerSeq, (p) => p.resolve(undefined));
        break;
      case "SignalWaitTimedOut":
        this.removeWaiter(body.waitSeq);
        this.settle(body.waitSeq, (p) => p.resolve(undefined));
        break;
      case "SignalReceived": {
        const index = this.signalWaiters.findIndex((w) => w.name === body.signalName);
        if (index >= 0) {
          const [waiter] = this.signalWaiters.splice(index, 1);
          this.settle(waiter!.seq, (p) => p.resolve(JSON.parse(body.payload)));
        } else {
          const queue = this.bufferedSignals.get(body.signalName) ?? [];
          queue.push(body.payload);
          this.bufferedSignals.set(body.signalName, queue);
        }
        break;
      }
      default:
        return;
    }
    await drain();
  }

  /** Commands the code issued that history does not hold yet, in the order issued. */
  newCommands(): WorkflowCommand[] {
    if (this.result?.kind === "blocked") return [];
    const out: WorkflowCommand[] = [];
    for (const [seq, entry] of this.issued) if (!this.recorded.has(seq)) out.push(entry.command);
    return out;
  }

  /** Whether a signal wait is still open (its timeout timer is then still meaningful). */
  isWaiting(seq: number): boolean {
    return this.pending.has(seq);
  }

  private match(seq: number, expected: string): void {
    const found = this.issued.get(seq);
    if (!found || found.descriptor !== expected) {
      this.block(
        new DeterminismViolationError(
          this.workflowId,
          seq,
          expected,
          found?.descriptor ?? "nothing",
        ),
      );
      return;
    }
    this.recorded.add(seq);
  }

  private settle(seq: number, action: (p: Pending) => void): void {
    const pending = this.pending.get(seq);
    if (!pending) return;
    this.pending.delete(seq);
    action(pending);
  }

  private removeWaiter(seq: number): void {
    const index = this.signalWaiters.findIndex((w) => w.seq === seq);
    if (index >= 0) this.signalWaiters.splice(index, 1);
  }

  private issue<T>(descriptor: string, build: (seq: number) => WorkflowCommand): Promise<T> {
    if (this.result) return new Promise<T>(() => undefined);
    const seq = ++this.seq;
    const command = build(seq);
    this.issued.set(seq, { descriptor, command });
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject, descriptor });
    });
  }

  private context(): WorkflowContext {
    const wait = (ms: number): Promise<void> => {
      if (!Number.isFinite(ms) || ms < 0) {
        return Promise.reject(
          new TypeError(`ctx.wait: duration must be a finite number ≥ 0, got ${ms}`),
        );
      }
      return this.issue(waitDescriptor(), (seq) => ({
        kind: "sleep",
        seq,
        durationMs: Math.round(ms),
      }));
    };
    const suggestAfter = this.definition.options.continueAsNewAfter ?? CONTINUE_AS_NEW_AFTER;
    const info = Object.defineProperties({} as WorkflowInfo, {
      runStartSeq: { value: this.startSeq, enumerable: true },
      historyLength: { get: () => this.delivered, enumerable: true },
      continueAsNewSuggested: { get: () => this.delivered >= suggestAfter, enumerable: true },
    });
    return {
      workflowId: this.workflowId,
      workflowType: this.definition.name,
      info: Object.freeze(info),
      continueAsNew: (input?: unknown) => {
        if (!this.result) {
          try {
            this.result = {
              kind: "continuedAsNew",
              input: toJsonText(input, "input of continueAsNew"),
            };
          } catch (err) {
            return Promise.reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
        return new Promise<never>(() => undefined);
      },
      step: <O, I>(step: string | StepDefinition<I, O>, input?: I, options?: StepOptions) => {
        const stepName = typeof step === "string" ? step : step.name;
        let inputText: JsonText;
        try {
          inputText = toJsonText(input, `input of step ${stepName}`);
        } catch (err) {
          return Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
        return this.issue<O>(stepDescriptor(stepName), (seq) => ({
          kind: "step",
          seq,
          stepName,
          input: inputText,
          options,
        }));
      },
      wait,
      sleep: wait,
      waitForSignal: <T>(name: string, options: WaitForSignalOptions = {}) => {
        const timeoutMs = options.timeoutMs ?? null;
        if (timeoutMs !== null && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
          return Promise.reject(
            new TypeError(`ctx.waitForSignal: timeoutMs must be ≥ 0, got ${timeoutMs}`),
          );
        }
        const buffered = this.bufferedSignals.get(name);
        const satisfied = buffered !== undefined && buffered.length > 0;
        const promise = this.issue<T | undefined>(signalDescriptor(name), (seq) => ({
          kind: "signalWait",
          seq,
          signalName: name,
          timeoutMs: satisfied ? null : timeoutMs,
          satisfied,
        }));
        if (this.result) return promise;
        const seq = this.seq;
        if (satisfied) {
          const payload = buffered.shift()!;
          this.settle(seq, (p) => p.resolve(JSON.parse(payload)));
        } else {
          this.signalWaiters.push({ seq, name });
        }
        return promise;
      },
      now: () => this.currentTime,
      random: () => this.random(),
      uuid: () => uuidFrom(this.random),
    };
  }

  private finish(value: unknown): void {
    if (this.result) return;
    try {
      this.result = { kind: "completed", result: toJsonText(value, "workflow result") };
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(error: unknown): void {
    if (this.result) return;
    if (error instanceof DeterminismViolationError) {
      this.block(error);
      return;
    }
    this.result = { kind: "failed", error: errorInfo(error) };
  }

  private block(error: DeterminismViolationError): void {
    if (this.result?.kind === "blocked") return;
    this.violation = error;
    this.result = { kind: "blocked", code: error.code, reason: error.message };
  }
}

/** How a command is named in divergence reports: `step "charge"`, `wait`, `signal "approve"`. */
export function commandDescriptor(command: WorkflowCommand): string {
  switch (command.kind) {
    case "step":
      return stepDescriptor(command.stepName);
    case "sleep":
      return waitDescriptor();
    case "signalWait":
      return signalDescriptor(command.signalName);
  }
}

export function stepDescriptor(name: string): string {
  return `step "${name}"`;
}
function waitDescriptor(): string {
  return "wait";
}
function signalDescriptor(name: string): string {
  return `signal "${name}"`;
}

/** Lets every microtask the workflow code can run finish: its code awaits nothing else. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      stack: error.stack ?? null,
      terminal: WeftError.is(error) && error.code === "TERMINAL",
      code: WeftError.is(error) ? error.code : null,
    };
  }
  return { name: "Error", message: String(error), stack: null, terminal: false, code: null };
}
