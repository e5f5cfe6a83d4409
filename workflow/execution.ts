import {
  ChildWorkflowFailedError,
  DeterminismViolationError,
  InvalidInputError,
  ScopeCancelledError,
  StateTooLargeError,
  StepFailedError,
  WeftError,
  WorkflowCancelledError,
  type ErrorCode,
} from "../core/errors";
import { toJsonText } from "../core/json";
import { assertWorkflowId } from "../core/ids";
import type { ErrorInfo, HistoryEvent, JsonText, ParentClosePolicy } from "../schemas/types";
import { PARENT_CLOSE_POLICIES } from "../schemas/types";
import { checkStepTimeouts } from "./definitions";
import type {
  CancellationScope,
  ChildHandle,
  ChildOptions,
  ConditionOptions,
  SignalHandler,
  StepDefinition,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowInfo,
} from "./definitions";
import { seededRandom, uuidFrom } from "./random";
import {
  currentScope,
  runInScope,
  withSandboxGlobals,
  type CancelScope,
  type HostTimer,
  type SandboxScope,
} from "./sandbox";

/**
 * The block code of a run whose code waits on something that is not a ctx operation (a
 * promise of its own, a setTimeout) or asks the process for a timer: see `WorkflowExecution`.
 */
export const NON_DETERMINISTIC_AWAIT: ErrorCode = "NON_DETERMINISTIC_AWAIT";

/**
 * The most a run's state (`ctx.setState`) may take as JSON. A decider holds it for each cached
 * run and the read models keep it on the run's row, where every subscriber is pushed it whole
 * on each change: kept well under the 512 KiB of a payload.
 */
export const MAX_STATE_BYTES = 64 * 1024;

/** A ctx operation workflow code asked for: each takes the next seq. */
export type OperationCommand =
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
    }
  | {
      kind: "child";
      seq: number;
      workflowType: string;
      childWorkflowId: string;
      input: JsonText;
      parentClosePolicy: ParentClosePolicy;
    };

/**
 * What workflow code asked for that history does not hold yet: an operation, or the cancel of
 * a pending one (`scope.cancel()` of the `ctx.cancellable` scope it was made in). A cancel
 * takes no seq of its own: it names the operation's, and replay matches it by that.
 */
export type WorkflowCommand =
  OperationCommand | { kind: "cancel"; seq: number; of: OperationCommand; reason: string | null };

/** The longest reason `scope.cancel(reason)` takes: it is recorded with each operation. */
export const MAX_CANCEL_REASON_CHARS = 1024;

/**
 * A patch `ctx.patched` / `ctx.deprecatePatch` took live, to be recorded as PatchMarked. Not a
 * command: it takes no seq (a replay of history from before the patch must number the other
 * calls as it did) and nothing in history is matched against it.
 */
export interface PatchMarker {
  patchId: string;
  /** Events of the run the code had seen when it called (its WorkflowStarted counted). */
  afterEvents: number;
  deprecated: boolean;
}

export type ExecutionOutcome =
  | { kind: "completed"; result: JsonText }
  /** `ctx.continueAsNew(input)`: the run closes and a new one starts with `input`. */
  | { kind: "continuedAsNew"; input: JsonText }
  | { kind: "failed"; error: ErrorInfo }
  /** After a cancel request, the code threw WorkflowCancelledError: the run closes cancelled. */
  | { kind: "cancelled"; reason: string | null; requestId: string }
  | { kind: "blocked"; code: string; reason: string };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  descriptor: string;
  /** The scope it was called in (see `reaches`): which cancels reject it. */
  scope: CancelScope | undefined;
}

/** A command the code issued, and when (commands are recorded in the order issued). */
interface Issued {
  descriptor: string;
  command: WorkflowCommand;
  order: number;
}

/** A `ctx.condition` not yet settled. */
interface Condition {
  predicate: () => boolean;
  resolve: (holds: boolean) => void;
  reject: (error: unknown) => void;
  /** The seq of its timeout's timer, when it has one. */
  timerSeq: number | undefined;
  /** The scope it was made in: which cancels reject it. */
  scope: CancelScope | undefined;
}

/**
 * Whether a cancel of `target` (undefined: the run's own cancel) reaches an operation made in
 * `scope`: `target` encloses it (or is it) with no `ctx.nonCancellable` scope in between.
 */
function reaches(target: CancelScope | undefined, scope: CancelScope | undefined): boolean {
  for (let s = scope; s !== undefined; s = s.parent) {
    if (s === target) return true;
    if (s.kind === "nonCancellable") return false;
  }
  return target === undefined;
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
 *
 * The code runs in a sandbox (sandbox.ts): while it runs, `Date.now()`, `new Date()` and
 * `Date()` are the time of the event being processed (what `ctx.now()` says),
 * `performance.now()` is that time less the run's start, and `Math.random()` draws from a
 * seeded stream of the run's own. That stream is not `ctx.random()`'s: a library that calls
 * `Math.random()` (or stops calling it in a new version) then never shifts the run's
 * `ctx.random()` and `ctx.uuid()` values. Each drive of the code (`begin`, and each event that
 * settles a ctx promise) ends once every microtask has run; if the code then has neither ended
 * nor a ctx operation pending, it waits on something history cannot replay (a promise of its
 * own, `fetch`, a timer of the process) and would hang as running: the run is parked as
 * blocked (`NON_DETERMINISTIC_AWAIT`), naming the ctx operation it last resumed after. A call
 * of `setTimeout`, `setInterval` or `setImmediate` from the code parks it at once, naming the
 * call (the timer it gets never fires).
 *
 * Cancellation: a WorkflowCancelRequested in history rejects, at that point of the replay,
 * every pending ctx operation (and open condition) the code made outside
 * `ctx.nonCancellable`, with WorkflowCancelledError; from then on such an operation rejects
 * as it is called, and is not recorded. Inside `ctx.nonCancellable(fn)` operations run as
 * before, so the code can clean up (a saga's compensations) with durable steps. Because the
 * request is an event at a fixed place in history, every replay rejects the same operations at
 * the same point. The code then ends as it chooses: throwing WorkflowCancelledError closes
 * the run cancelled, any other error fails it (a failed compensation stays visible), a value
 * completes it.
 *
 * Scopes: `ctx.cancellable(fn)` runs `fn` in a scope the code can cancel itself
 * (`scope.cancel(reason)`); `ctx.nonCancellable(fn)` in one no cancel from outside it reaches.
 * A cancel reaches an operation when it is its scope's or an enclosing scope's (the run's is
 * the outermost) with no non-cancellable scope in between. A scope's cancel is the code's own
 * decision: it rejects the pending operations it reaches with ScopeCancelledError at once,
 * and issues a cancel command for each, which the decider records (StepCancelled,
 * TimerCancelled, SignalWaitCancelled, ChildWorkflowCancelRequested) and a replay matches by
 * the operation's seq, as it matches the operation. A recorded cancel the code no longer
 * issues, or a cancel it issues where history has none, is a divergence.
 */
export class WorkflowExecution {
  private seq: number;
  /** Events of this run delivered so far, its WorkflowStarted counted. */
  private delivered = 1;
  private currentTime: number;
  private readonly random: () => number;
  /** What `Math.random()` draws from in the code: a stream apart from `ctx.random()`'s. */
  private readonly globalRandom: () => number;
  /** Where the code last resumed, for messages: `at its start`, `after step "charge"`. */
  private resumedAfter = "at its start";
  private readonly scope: SandboxScope = {
    now: () => this.currentTime,
    random: () => this.globalRandom(),
    sinceStart: () => this.currentTime - this.startedAt,
    hostTimer: (kind, delayMs) => this.hostTimer(kind, delayMs),
  };
  private readonly issued = new Map<number, Issued>();
  private readonly recorded = new Set<number>();
  /** Cancels of operations the code issued (scope.cancel), by the operation's seq. */
  private readonly cancels = new Map<number, Issued & { whileReplaying: boolean }>();
  private readonly recordedCancels = new Set<number>();
  /** Commands issued so far, operations and cancels: their order of recording. */
  private issuedCount = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly bufferedSignals = new Map<string, JsonText[]>();
  private readonly signalWaiters: { seq: number; name: string }[] = [];
  private readonly signalHandlers = new Map<string, SignalHandler<unknown>>();
  /** Open `ctx.condition`s, in the order called: re-evaluated after each drive of the code. */
  private conditions: Condition[] = [];
  /** The state the code last set (`ctx.setState`), as JSON; undefined while it set none. */
  private state: JsonText | undefined;
  /** The state history last recorded for this run (its last StateUpdated delivered). */
  private recordedState: JsonText | undefined;
  private result: ExecutionOutcome | undefined;
  /** The cancel request history delivered, once it has. */
  private cancel: { reason: string | null; requestId: string } | undefined;
  private violation: DeterminismViolationError | undefined;
  /**
   * Events recorded before this execution was made, which it replays: until it has seen them
   * all, the code runs where history already says what it did (see `ctx.patched`).
   */
  private replayCount = 0;
  /** PatchMarked events of the history it replays: patch ID → the position it was taken at. */
  private readonly recordedPatches = new Map<string, number>();
  /** Patches this run has taken (answered true), recorded or not yet. */
  private readonly takenPatches = new Set<string>();
  /** Patches taken live and not yet handed to the decider, in the order taken. */
  private unrecordedPatches: PatchMarker[] = [];

  constructor(
    private readonly definition: WorkflowDefinition,
    readonly workflowId: string,
    private readonly input: JsonText,
    private readonly startedAt: number,
    /** The history seq of the run's WorkflowStarted (1 for a workflow ID's first run). */
    private readonly startSeq = 1,
  ) {
    this.currentTime = startedAt;
    this.seq = startSeq - 1;
    // Each run of a workflow ID draws its own numbers (ctx.uuid() must not repeat a run's).
    const seed = startSeq === 1 ? workflowId : `${workflowId}#${startSeq}`;
    this.random = seededRandom(seed);
    this.globalRandom = seededRandom(`${seed}/Math.random`);
  }

  get outcome(): ExecutionOutcome | undefined {
    return this.result;
  }

  /** Where replay diverged from history, when it did. */
  get divergence(): DeterminismViolationError | undefined {
    return this.violation;
  }

  /**
   * Says which of the events this execution will be fed were recorded before it was made (the
   * run's history up to the decision at hand): until it has been fed them all, it replays, and
   * `ctx.patched` answers from the PatchMarked events among them. Called before `begin`.
   */
  replaying(events: readonly HistoryEvent[]): void {
    this.replayCount = events.length;
    for (const event of events) {
      if (event.body.type === "PatchMarked" && !this.recordedPatches.has(event.body.patchId))
        this.recordedPatches.set(event.body.patchId, event.body.afterEvents);
    }
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
    await this.drive(() => {
      Promise.resolve()
        .then(() => runInScope(this.scope, () => this.definition.fn(ctx, input)))
        .then(
          (value) => this.finish(value),
          (error) => this.fail(error),
        );
    });
  }

  /**
   * Calls the workflow function and feeds it `events`, the history recorded before this
   * execution was made (see `replaying`). The sandbox's globals stay in place for the whole
   * replay rather than going in and out at each event: the drives are the same, and a
   * replay of n events costs n drains instead of n drains and 2n swaps.
   */
  async replay(events: readonly HistoryEvent[]): Promise<void> {
    await withSandboxGlobals(async () => {
      await this.begin();
      for (const event of events) {
        if (this.outcome) break;
        await this.deliver(event);
      }
    });
  }

  /** Feeds one history event to the code. */
  async deliver(event: HistoryEvent): Promise<void> {
    await this.deliverEvent(event);
    // Replay has reached the end of what was recorded before this execution: a cancel the
    // code issued before that end was recorded within it, if the code still does what it did.
    if (this.delivered === this.replayCount) this.checkReplayedCancels();
  }

  private async deliverEvent(event: HistoryEvent): Promise<void> {
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
      case "ChildWorkflowScheduled":
        this.match(body.childSeq, childDescriptor(body.workflowType));
        return;
      case "StepCancelled":
        this.matchCancel(body.stepSeq);
        return;
      case "TimerCancelled":
        this.matchCancel(body.timerSeq);
        return;
      case "SignalWaitCancelled":
        this.matchCancel(body.waitSeq);
        return;
      case "ChildWorkflowCancelRequested":
        this.matchCancel(body.childSeq);
        return;
      case "ChildWorkflowCompleted":
        this.settle(body.childSeq, (p) => p.resolve(JSON.parse(body.result)));
        break;
      case "ChildWorkflowFailed":
        this.settle(body.childSeq, (p) =>
          p.reject(
            new ChildWorkflowFailedError(body.childWorkflowId, body.status, {
              name: body.error.name,
              message: body.error.message,
              code: body.error.code,
            }),
          ),
        );
        break;
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
        // An open waitForSignal of the name takes the signal first, then a handler
        // (ctx.onSignal); else it waits in the buffer for whichever of the two comes first.
        const index = this.signalWaiters.findIndex((w) => w.name === body.signalName);
        const handler = this.signalHandlers.get(body.signalName);
        if (index >= 0) {
          const [waiter] = this.signalWaiters.splice(index, 1);
          this.settle(waiter!.seq, (p) => p.resolve(JSON.parse(body.payload)));
        } else if (handler) {
          this.resumedAfter = `after ${signalDescriptor(body.signalName)}`;
          await this.drive(() => runInScope(this.scope, () => this.handle(handler, body.payload)));
          return;
        } else {
          const queue = this.bufferedSignals.get(body.signalName) ?? [];
          queue.push(body.payload);
          this.bufferedSignals.set(body.signalName, queue);
        }
        break;
      }
      case "StateUpdated":
        this.recordedState = body.state;
        return;
      case "WorkflowBlocked":
        // The decision the code was in when the run blocked was never recorded: cancels made
        // in it are the code's next decision (once it replays), not ones history must hold.
        for (const cancel of this.cancels.values()) cancel.whileReplaying = false;
        return;
      case "PatchMarked":
        // Answered from `replaying`'s look ahead; a marker no call asks for (the code dropped
        // its deprecatePatch) is left alone.
        return;
      case "WorkflowCancelRequested":
        if (this.cancel) return;
        this.cancel = { reason: body.reason, requestId: body.requestId };
        this.resumedAfter = "after the cancel request";
        this.rejectCancellable();
        break;
      default:
        return;
    }
    await this.drive(() => undefined);
  }

  /** Whether history delivered a cancel request to this run. */
  get cancelRequested(): boolean {
    return this.cancel !== undefined;
  }

  /**
   * The error an operation made in `scope` (by default, the calling code's) is refused with:
   * the innermost cancelled scope that reaches it, else the run's cancel if it reaches it;
   * undefined when no cancel reaches it and the operation is to run.
   */
  private refusal(
    descriptor: string | null,
    scope: CancelScope | undefined = currentScope()?.cancelScope,
  ): WeftError | undefined {
    for (let s = scope; s !== undefined; s = s.parent) {
      if (s.kind === "nonCancellable") return undefined;
      if (s.cancelled) return new ScopeCancelledError(s.cancelled.reason, descriptor);
    }
    if (!this.cancel) return undefined;
    return new WorkflowCancelledError(this.workflowId, this.cancel.reason);
  }

  /**
   * `scope.cancel(reason)`: the scope's pending operations (and those of the scopes inside it
   * that no non-cancellable scope shields) reject with ScopeCancelledError, conditions first,
   * then the others in the order they were made; each gets a cancel command, so the decider
   * stops what runs for it (a step's attempt, a timer, a signal wait's timeout, a child). A
   * condition's timeout timer is one of those operations. Later calls change nothing.
   */
  private cancelScope(scope: CancelScope, reason: string | null): void {
    if (scope.cancelled || this.result) return;
    scope.cancelled = { reason };
    for (const condition of [...this.conditions]) {
      if (!reaches(scope, condition.scope)) continue;
      this.conditions = this.conditions.filter((c) => c !== condition);
      condition.reject(new ScopeCancelledError(reason, "condition"));
    }
    for (const [seq, pending] of [...this.pending]) {
      if (!reaches(scope, pending.scope)) continue;
      this.pending.delete(seq);
      this.removeWaiter(seq);
      const operation = this.issued.get(seq)?.command;
      pending.reject(new ScopeCancelledError(reason, pending.descriptor));
      if (!operation || operation.kind === "cancel") continue;
      this.cancels.set(seq, {
        descriptor: `cancel of ${pending.descriptor}`,
        command: { kind: "cancel", seq, of: operation, reason },
        order: ++this.issuedCount,
        // History goes on past this point: it must hold the cancel (checkReplayedCancels).
        whileReplaying: this.delivered < this.replayCount,
      });
    }
  }

  /** A recorded cancel of an operation: the code must have cancelled it as well, by now. */
  private matchCancel(seq: number): void {
    const expected = `cancel of ${this.issued.get(seq)?.descriptor ?? `command ${seq}`}`;
    if (!this.cancels.has(seq)) {
      this.diverge(new DeterminismViolationError(this.workflowId, seq, expected, "nothing"));
      return;
    }
    this.recordedCancels.add(seq);
  }

  /**
   * Cancels the code issued while it replayed, with recorded history still ahead of it: the
   * decider records a cancel in the decision the code made it in, so history holds each by
   * the end of what was recorded. One it does not hold is code that now cancels where it did
   * not.
   */
  private checkReplayedCancels(): void {
    for (const [seq, cancel] of this.cancels) {
      if (!cancel.whileReplaying || this.recordedCancels.has(seq)) continue;
      this.diverge(
        new DeterminismViolationError(this.workflowId, seq, "no cancel", cancel.descriptor),
      );
      return;
    }
  }

  /**
   * The cancel reaches the code's current awaits: conditions first (their timeout timers go
   * with them), then steps, timers and signal waits, each in the order it was made. A signal
   * wait rejected here no longer takes signals; a step or timer rejected here may still
   * complete in history, and its result is only recorded.
   */
  private rejectCancellable(): void {
    const reason = this.cancel?.reason ?? null;
    for (const condition of [...this.conditions]) {
      if (!reaches(undefined, condition.scope)) continue;
      this.dropCondition(condition);
      condition.reject(new WorkflowCancelledError(this.workflowId, reason));
    }
    for (const [seq, pending] of [...this.pending]) {
      if (!reaches(undefined, pending.scope)) continue;
      this.pending.delete(seq);
      this.removeWaiter(seq);
      pending.reject(new WorkflowCancelledError(this.workflowId, reason));
    }
  }

  /**
   * The state the code has set since history last recorded one, or undefined when it is the
   * one recorded (or the code set none). The decider records it as a StateUpdated; replay
   * never matches it against a call (see `ctx.setState`).
   */
  stateChange(): JsonText | undefined {
    return this.state !== this.recordedState ? this.state : undefined;
  }

  /** The state the code last set, as JSON (undefined: none). */
  get currentState(): JsonText | undefined {
    return this.state;
  }

  /** Calls a signal handler; what it throws (or its promise rejects with) fails the run. */
  private handle(handler: SignalHandler<unknown>, payload: JsonText): void {
    try {
      const returned = handler(JSON.parse(payload)) as unknown;
      if (isThenable(returned)) returned.then(undefined, (error) => this.fail(error));
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Settles each open condition whose predicate now holds, in the order they were called;
   * true when one did (its continuation may change what the others see).
   */
  private checkConditions(): boolean {
    if (this.conditions.length === 0 || this.result) return false;
    let settled = false;
    runInScope(this.scope, () => {
      for (const condition of [...this.conditions]) {
        let holds: boolean;
        try {
          holds = condition.predicate();
        } catch (error) {
          this.dropCondition(condition);
          condition.reject(error);
          settled = true;
          continue;
        }
        if (!holds) continue;
        this.dropCondition(condition);
        condition.resolve(true);
        settled = true;
      }
    });
    return settled;
  }

  /** A settled condition: its timeout's timer, if any, is no longer waited on. */
  private dropCondition(condition: Condition): void {
    this.conditions = this.conditions.filter((c) => c !== condition);
    if (condition.timerSeq !== undefined) this.pending.delete(condition.timerSeq);
  }

  /**
   * Lets the code run (`start` resolves ctx promises or calls it) with the sandbox's globals
   * in place until every microtask has run, then parks the run if the code waits on nothing
   * history holds. The globals go in before the first continuation can run: continuations of
   * promises resolved just before are microtasks, and those run only after this returns.
   */
  private async drive(start: () => void): Promise<void> {
    await withSandboxGlobals(async () => {
      start();
      await drain();
      // A condition is looked at after the code ran as far as it can (a signal handler, a
      // step result…): what it reads can change only then. Deterministic, as the drives are.
      while (this.checkConditions()) await drain();
    });
    if (this.result || this.pending.size > 0 || this.conditions.length > 0) return;
    this.block(
      NON_DETERMINISTIC_AWAIT,
      `workflow ${this.workflowId} waits ${this.resumedAfter} on something that is not a ctx operation: ` +
        "no step, timer, signal wait or condition of it is pending and it has not returned, so it would hang as running. " +
        "A promise of its own, fetch or another I/O call, or a timer of the process (timers/promises) is not in history and is not replayed after a restart: " +
        "do I/O in a step (ctx.step) and wait with ctx.sleep(ms) or ctx.waitForSignal.",
    );
  }

  private hostTimer(kind: HostTimer, delayMs: unknown): void {
    const delay = typeof delayMs === "number" ? ` (${delayMs} ms)` : "";
    this.block(
      NON_DETERMINISTIC_AWAIT,
      `workflow ${this.workflowId} called ${kind}${delay} ${this.resumedAfter}: a timer of the process is not in history, ` +
        "does not survive a restart and is not replayed, so workflow code may not start one (its callback never runs). " +
        "Wait with ctx.sleep(ms), a durable timer, instead.",
    );
  }

  /** Commands the code issued that history does not hold yet, in the order issued. */
  newCommands(): WorkflowCommand[] {
    if (this.result?.kind === "blocked") return [];
    const out: Issued[] = [];
    for (const [seq, entry] of this.issued) if (!this.recorded.has(seq)) out.push(entry);
    for (const [seq, entry] of this.cancels) if (!this.recordedCancels.has(seq)) out.push(entry);
    return out.sort((a, b) => a.order - b.order).map((entry) => entry.command);
  }

  /**
   * The patches taken live since the last call, to record before anything else the code did in
   * this decision (its commands, its state, how it ended): a run that ends in the decision
   * that took a patch must still replay with it.
   */
  takePatchMarkers(): PatchMarker[] {
    const taken = this.unrecordedPatches;
    this.unrecordedPatches = [];
    return taken;
  }

  /** Whether history holds the operation with this seq (its scheduling event). */
  isRecorded(seq: number): boolean {
    return this.recorded.has(seq);
  }

  /** The code's signal waits still open, oldest first: the next signal of a name goes there. */
  get signalWaits(): { signalName: string; waitSeq: number }[] {
    return this.signalWaiters.map((w) => ({ signalName: w.name, waitSeq: w.seq }));
  }

  /** Whether a signal wait is still open (its timeout timer is then still meaningful). */
  isWaiting(seq: number): boolean {
    return this.pending.has(seq);
  }

  /**
   * Whether the run takes the new branch of a patch (see `ctx.patched`): true once taken in
   * this run; while replaying, true only from where history recorded the run taking it; live,
   * true, and the marker is recorded.
   */
  private patch(patchId: string, deprecated: boolean): boolean {
    const method = deprecated ? "ctx.deprecatePatch" : "ctx.patched";
    if (typeof patchId !== "string" || patchId === "")
      throw new TypeError(`${method}: the patch ID must be a non-empty string`);
    if (this.takenPatches.has(patchId)) return true;
    const takenAt = this.recordedPatches.get(patchId);
    if (takenAt === undefined || takenAt > this.delivered) {
      // History goes on past this point without the marker: the run did not take the patch
      // here, so it keeps the branch it took then.
      if (this.delivered < this.replayCount || this.result) return false;
      this.unrecordedPatches.push({
        patchId,
        afterEvents: this.delivered,
        deprecated,
      });
    }
    this.takenPatches.add(patchId);
    return true;
  }

  private match(seq: number, expected: string): void {
    const found = this.issued.get(seq);
    if (!found || found.descriptor !== expected) {
      this.diverge(
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
    this.resumedAfter = `after ${pending.descriptor}`;
    action(pending);
  }

  private removeWaiter(seq: number): void {
    const index = this.signalWaiters.findIndex((w) => w.seq === seq);
    if (index >= 0) this.signalWaiters.splice(index, 1);
  }

  private issue<T>(descriptor: string, build: (seq: number) => OperationCommand): Promise<T> {
    if (this.result) return new Promise<T>(() => undefined);
    const refused = this.refusal(descriptor);
    if (refused) return Promise.reject(refused);
    const scope = currentScope()?.cancelScope;
    const seq = ++this.seq;
    const command = build(seq);
    this.issued.set(seq, { descriptor, command, order: ++this.issuedCount });
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, {
        resolve: resolve as (v: unknown) => void,
        reject,
        descriptor,
        scope,
      });
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
    const startChild = (
      workflow: string | WorkflowDefinition,
      input: unknown,
      options: ChildOptions = {},
    ): { workflowId: string; result: Promise<unknown> } | Error => {
      const workflowType = typeof workflow === "string" ? workflow : workflow?.name;
      try {
        if (typeof workflowType !== "string" || workflowType === "")
          throw new TypeError("ctx.child: the workflow must be a definition or a type name");
        const policy = options.parentClosePolicy ?? "cancel";
        if (!PARENT_CLOSE_POLICIES.includes(policy))
          throw new InvalidInputError(
            `ctx.child(${JSON.stringify(workflowType)}): parentClosePolicy must be one of ${PARENT_CLOSE_POLICIES.join(", ")}, got ${JSON.stringify(policy)}`,
          );
        const inputText = toJsonText(input, `input of child workflow ${workflowType}`);
        // The default ID comes from the call's seq: the same on every replay.
        const seq = this.seq + 1;
        const childWorkflowId = assertWorkflowId(options.workflowId ?? `${this.workflowId}/${seq}`);
        if (childWorkflowId === this.workflowId)
          throw new InvalidInputError(
            `ctx.child: a run cannot be its own child (${childWorkflowId})`,
          );
        const result = this.issue<unknown>(childDescriptor(workflowType), (issued) => ({
          kind: "child",
          seq: issued,
          workflowType,
          childWorkflowId,
          input: inputText,
          parentClosePolicy: policy,
        }));
        return { workflowId: childWorkflowId, result };
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    };
    return {
      workflowId: this.workflowId,
      workflowType: this.definition.name,
      info: Object.freeze(info),
      child: <O>(
        workflow: string | WorkflowDefinition,
        input?: unknown,
        options?: ChildOptions,
      ) => {
        const started = startChild(workflow, input, options);
        return started instanceof Error ? Promise.reject(started) : (started.result as Promise<O>);
      },
      startChild: <O>(
        workflow: string | WorkflowDefinition,
        input?: unknown,
        options?: ChildOptions,
      ): Promise<ChildHandle<O>> => {
        const started = startChild(workflow, input, options);
        if (started instanceof Error) return Promise.reject(started);
        // The code may never ask for the result (the child is left to the parent-close
        // policy): its rejection must not surface as unhandled.
        started.result.catch(() => undefined);
        const handle: ChildHandle<O> = Object.freeze({
          workflowId: started.workflowId,
          result: () => started.result as Promise<O>,
        });
        return Promise.resolve(handle);
      },
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
          if (options) checkStepTimeouts(`ctx.step(${JSON.stringify(stepName)})`, options);
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
        const refused = this.refusal(signalDescriptor(name));
        if (refused) return Promise.reject(refused);
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
      setState: (value: unknown) => {
        // Checked before anything is recorded: a state over the limit throws here, in the
        // code, and the last state recorded stays.
        const text = toJsonText(value, "workflow state");
        const bytes = Buffer.byteLength(text);
        if (bytes > MAX_STATE_BYTES) throw new StateTooLargeError(bytes, MAX_STATE_BYTES);
        if (!this.result) this.state = text;
      },
      onSignal: <T>(name: string, handler: SignalHandler<T>) => {
        if (typeof name !== "string" || name === "")
          throw new TypeError("ctx.onSignal: the signal name must be a non-empty string");
        if (typeof handler !== "function")
          throw new TypeError(`ctx.onSignal("${name}"): the handler must be a function`);
        const own = handler as SignalHandler<unknown>;
        this.signalHandlers.set(name, own);
        // Signals that came before the handler (none took them) go to it now, in order. A
        // handler that replaces itself from inside leaves the rest to the new one.
        const buffered = this.bufferedSignals.get(name);
        while (
          buffered &&
          buffered.length > 0 &&
          !this.result &&
          this.signalHandlers.get(name) === own
        )
          this.handle(own, buffered.shift()!);
        if (buffered?.length === 0) this.bufferedSignals.delete(name);
      },
      condition: (predicate: () => boolean, options: ConditionOptions = {}) => {
        if (typeof predicate !== "function")
          return Promise.reject(new TypeError("ctx.condition: the predicate must be a function"));
        const timeoutMs = options.timeoutMs;
        if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
          return Promise.reject(
            new TypeError(`ctx.condition: timeoutMs must be a finite number ≥ 0, got ${timeoutMs}`),
          );
        }
        if (this.result) return new Promise<boolean>(() => undefined);
        const refused = this.refusal("condition");
        if (refused) return Promise.reject(refused);
        const scope = currentScope()?.cancelScope;
        let holds: boolean;
        try {
          holds = predicate();
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
        // True already, or no time to wait: settled at once, nothing recorded.
        if (holds) return Promise.resolve(true);
        if (timeoutMs === 0) return Promise.resolve(false);
        return new Promise<boolean>((resolve, reject) => {
          const condition: Condition = {
            predicate,
            resolve,
            reject,
            timerSeq: undefined,
            scope,
          };
          this.conditions.push(condition);
          if (timeoutMs === undefined) return;
          // The timeout is a durable timer, recorded as ctx.sleep's is (TimerStarted).
          const timer = this.issue<void>(waitDescriptor(), (seq) => ({
            kind: "sleep",
            seq,
            durationMs: Math.round(timeoutMs),
          }));
          condition.timerSeq = this.seq;
          void timer.then(
            () => {
              if (!this.conditions.includes(condition)) return;
              this.conditions = this.conditions.filter((c) => c !== condition);
              resolve(false);
            },
            // A cancel rejects the condition itself (rejectCancellable, cancelScope), not
            // through its timer.
            () => undefined,
          );
        });
      },
      nonCancellable: <T>(fn: () => Promise<T> | T): Promise<T> => {
        if (typeof fn !== "function")
          return Promise.reject(
            new TypeError("ctx.nonCancellable: the argument must be a function"),
          );
        const scope: SandboxScope = {
          ...this.scope,
          cancelScope: { kind: "nonCancellable", parent: currentScope()?.cancelScope },
        };
        try {
          return Promise.resolve(runInScope(scope, fn));
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
      cancellable: <T>(fn: (scope: CancellationScope<T>) => Promise<T> | T) => this.cancellable(fn),
      isCancelRequested: () => this.cancel !== undefined,
      patched: (patchId: string) => this.patch(patchId, false),
      deprecatePatch: (patchId: string) => {
        this.patch(patchId, true);
      },
      now: () => this.currentTime,
      random: () => this.random(),
      uuid: () => uuidFrom(this.random),
    };
  }

  /** `ctx.cancellable(fn)`: runs `fn` in a scope of its own and hands back the scope. */
  private cancellable<T>(
    fn: (scope: CancellationScope<T>) => Promise<T> | T,
  ): CancellationScope<T> {
    const scope: CancelScope = { kind: "cancellable", parent: currentScope()?.cancelScope };
    let result: Promise<T> | undefined;
    // Reached by its own cancel, an enclosing scope's or the run's (unless shielded).
    const cancelRequested = () => this.refusal(null, scope) !== undefined;
    const handle: CancellationScope<T> = Object.freeze({
      cancel: (reason?: string) => {
        if (reason !== undefined && typeof reason !== "string")
          throw new TypeError("scope.cancel: the reason must be a string");
        if (reason !== undefined && reason.length > MAX_CANCEL_REASON_CHARS)
          throw new InvalidInputError(
            `scope.cancel: the reason has ${reason.length} characters; the limit is ${MAX_CANCEL_REASON_CHARS} (it is recorded with each operation cancelled)`,
          );
        this.cancelScope(scope, reason ?? null);
      },
      get cancelRequested(): boolean {
        return cancelRequested();
      },
      result: () => result!,
    });
    if (typeof fn !== "function") {
      result = Promise.reject(new TypeError("ctx.cancellable: the argument must be a function"));
    } else {
      try {
        result = Promise.resolve(
          runInScope({ ...this.scope, cancelScope: scope }, () => fn(handle)),
        );
      } catch (error) {
        result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    // The code may never ask for the result (it cancelled the scope and moved on): its
    // rejection must not surface as unhandled.
    result.catch(() => undefined);
    return handle;
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
      this.diverge(error);
      return;
    }
    // After a cancel request, the cancel itself (the code rethrew it, or did not catch it)
    // closes the run cancelled; another error (a compensation that failed) fails it, so the
    // error stays visible.
    if (this.cancel && WeftError.is(error) && error.code === "WORKFLOW_CANCELLED") {
      this.result = { kind: "cancelled", ...this.cancel };
      return;
    }
    this.result = { kind: "failed", error: errorInfo(error) };
  }

  private diverge(error: DeterminismViolationError): void {
    if (this.result?.kind === "blocked") return;
    this.violation = error;
    this.block(error.code, error.message);
  }

  /** Parks the run: the first reason stands, and it replaces any outcome not yet taken. */
  private block(code: string, reason: string): void {
    if (this.result?.kind === "blocked") return;
    this.result = { kind: "blocked", code, reason };
  }
}

/** How a command is named in divergence reports: `step "charge"`, `wait`, `signal "approve"`. */
export function commandDescriptor(command: WorkflowCommand): string {
  switch (command.kind) {
    case "cancel":
      return `cancel of ${commandDescriptor(command.of)}`;
    case "step":
      return stepDescriptor(command.stepName);
    case "sleep":
      return waitDescriptor();
    case "signalWait":
      return signalDescriptor(command.signalName);
    case "child":
      return childDescriptor(command.workflowType);
  }
}

function childDescriptor(workflowType: string): string {
  return `child workflow "${workflowType}"`;
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
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
