import type {
  HistoryEvent,
  JsonText,
  ParentClosePolicy,
  ParentLink,
  ReusedStep,
} from "../schemas/types";
import { RUN_ENDS, type EndStatus } from "../core/run-lifecycle";
import type { WorkflowExecution } from "../workflow/execution";
import { PackedHistory, unpackEvents } from "./packed-events";

/** About how large a sealed chunk of a run's packed history grows (see PackedHistory). */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/**
 * One copy of each workflow type, step name and task queue, however many runs hold it: a
 * decoded event brings its own copy of every string, and an open run keeps some for as long
 * as it is open. Bounded: the names are the types the code defines (a few), not run data.
 */
const names = new Map<string, string>();
const MAX_NAMES = 10_000;
function intern(name: string): string {
  const known = names.get(name);
  if (known !== undefined) return known;
  if (names.size < MAX_NAMES) names.set(name, name);
  return name;
}

/** `continued`: closed by `ctx.continueAsNew`; a new run under the same ID follows at once. */
export type RunStatus = "running" | "blocked" | EndStatus;

/**
 * What a timer of the decider is for: a workflow's own timers (sleep, signalTimeout), a step's
 * retry and its limits (stepTimeout: start-to-close, heartbeat, scheduleToStart), and the
 * run's execution timeout (workflowTimeout).
 */
export type TimerKind =
  | "sleep"
  | "signalTimeout"
  | "retry"
  | "stepTimeout"
  | "heartbeat"
  | "scheduleToStart"
  | "workflowTimeout";

export interface TimerEntry {
  readonly key: string;
  readonly workflowId: string;
  readonly kind: TimerKind;
  readonly seq: number;
  readonly attempt: number;
  readonly dueAt: number;
  readonly signalName?: string;
}

export type StepStatus = "scheduled" | "started" | "backoff" | "completed" | "failed";

/** How a step ended for good: a completion, a failure, or a cancel of its scope. */
export type FinishedStatus = "failed" | "completed" | "cancelled";
/** Indexed by the low two bits of a packed finished step (see Run.finished). */
const FINISHED: readonly FinishedStatus[] = ["failed", "completed", "cancelled"];

export interface StepState {
  readonly seq: number;
  readonly name: string;
  readonly taskQueue: string;
  readonly input: JsonText;
  readonly timeoutMs: number | null;
  /** The retry policy as recorded (JSON): parsed only when an attempt fails. */
  readonly retryPolicy: string;
  readonly heartbeatTimeoutMs: number | null;
  readonly scheduleToStartTimeoutMs: number | null;
  attempt: number;
  status: StepStatus;
  /** The last details an attempt heartbeated (JSON): handed to the next attempt's task. */
  lastHeartbeatDetails: string | null;
}

const NO_STEPS: ReadonlyMap<number, StepState> = new Map();

/** A child run this run started and has not heard the end of (see ChildWorkflowScheduled). */
export interface OpenChild {
  readonly workflowId: string;
  readonly parentClosePolicy: ParentClosePolicy;
  /**
   * The policy was already sent (the code cancelled the scope that awaited it): the run's
   * close does not send it again. Its close is still recorded when it comes.
   */
  readonly policyPassed?: boolean;
}
const NO_CHILDREN: ReadonlyMap<number, OpenChild> = new Map();

/** A run as its decider holds it: folded from history, plus the live execution when cached. */
export class Run {
  status: RunStatus = "running";
  lastSeq = 0;
  /**
   * History of an open run, kept for replay as packed Avro bytes in chunks (see
   * packed-events.ts). Dropped when the run closes.
   */
  history: PackedHistory;
  /** Sealed chunks the changelog held when the run closed: their keys are erased then. */
  chunksAtClose = 0;
  /** When the run closed (set as it leaves the partition's open runs). */
  closedAt: number | undefined;
  /**
   * Steps in flight (scheduled, running, or waiting to retry), made on the first: a run that
   * sleeps or waits for a signal between steps holds no map at all (a map and its table are
   * about 200 bytes, a tenth of a sleeping run).
   */
  private stepsInFlight: Map<number, StepState> | undefined = undefined;
  readonly timers = new Map<string, TimerEntry>();
  execution: WorkflowExecution | undefined;
  /** Events appended since the execution last saw history. */
  undelivered: HistoryEvent[] = [];
  blockedReason: string | undefined;
  /** The run that started this one as its child (from WorkflowStarted), told when it closes. */
  parent: ParentLink | null = null;
  /**
   * Children started and not yet closed as history knows it, by the seq of their call: a
   * report of a child not here (already recorded) is not recorded again, and these get the
   * parent-close policy when this run closes. Made on the first child.
   */
  private openChildren: Map<number, OpenChild> | undefined = undefined;
  /**
   * Signal waits recorded and not known to be over, oldest first, as name and seq pairs in
   * one flat array (a run waits on one or two at a time; a map would be most of a waiting
   * run's memory): a signal satisfies the oldest open wait of its name, whose timeout timer
   * then leaves the queue. Made on the first wait.
   *
   * The run's code decides which wait a signal satisfies: the oldest open one of the name,
   * else a handler (ctx.onSignal), else the signal waits in a buffer for the next wait, which
   * is then satisfied at once and records no timeout. History does not say whether a signal
   * went to a handler or to the buffer, nor whether a wait without a timeout was satisfied
   * at once, so this list may hold waits the code no longer has open, never fewer: a signal
   * taken off it may stand for a wait already over, never for one still open. So a timer is
   * only ever dropped for a wait that is over; one left behind fires and is ignored, as all
   * were before (test/unit/signal-wait-timers.test.ts).
   */
  private openSignalWaits: (string | number)[] | undefined = undefined;
  /** History holds a WorkflowCancelRequested: a further cancel is not recorded again. */
  cancelRequested = false;
  /**
   * Epoch ms past which the run fails with WORKFLOW_TIMEOUT (from its WorkflowStarted), or
   * null; a run continued as new hands it on.
   */
  executionDeadline: number | null = null;
  /** The limit the deadline was set from (WorkflowStarted v8), or null when unknown. */
  executionTimeoutMs: number | null = null;
  /**
   * A reset run's recorded results not yet taken, by step seq (from its WorkflowStarted): a
   * step the code calls with one of these seqs and the same name completes with it at once.
   * Each leaves as its StepCompleted is folded, so a restore rebuilds what is left.
   */
  reused: Map<number, ReusedStep> | undefined = undefined;
  /** The workflow ID of the run a reset run reuses results of. */
  resetSource: string | undefined = undefined;
  /**
   * Request IDs of the signals this open run has recorded: a command that carries one again (a
   * client retrying a call it could not confirm) is not recorded twice. Folded from history, so
   * a restore rebuilds it; dropped with the rest when the run closes (a closed run takes no
   * signal or cancel), so it is bounded by the run's own history.
   */
  private requestIds: Set<string> | undefined = undefined;
  /**
   * Steps done for good, as pairs (seq, attempt × 4 + how it ended: 0 failed, 1 completed,
   * 2 cancelled with its scope): small integers in a flat array, a few bytes a step. Only a
   * late or repeated report looks here (a scan).
   */
  private finished: number[] | undefined = undefined;

  readonly workflowType: string;

  private readonly firstSeq: number;

  constructor(
    readonly workflowId: string,
    workflowType: string,
    readonly input: JsonText,
    readonly startedAt: number,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
    /**
     * The seq of the run's WorkflowStarted: 1, or one past the last event of the run it
     * continues (the runs of a workflow ID share one gapless history).
     */
    startSeq = 1,
  ) {
    this.workflowType = intern(workflowType);
    this.history = new PackedHistory(chunkBytes);
    this.firstSeq = startSeq;
    this.lastSeq = startSeq - 1;
  }

  get closed(): boolean {
    return this.status !== "running" && this.status !== "blocked";
  }

  /** The history seq of this run's WorkflowStarted (above 1 for a run continued as new). */
  get startSeq(): number {
    return this.firstSeq;
  }

  /** Steps in flight by seq (see `stepsInFlight`). */
  get steps(): ReadonlyMap<number, StepState> {
    return this.stepsInFlight ?? NO_STEPS;
  }

  /** Children still open, by call seq (see `openChildren`). */
  get children(): ReadonlyMap<number, OpenChild> {
    return this.openChildren ?? NO_CHILDREN;
  }

  /** Signal waits still open, oldest first (see `openSignalWaits`). */
  get signalWaits(): { signalName: string; waitSeq: number }[] {
    const waits = this.openSignalWaits ?? [];
    const open: { signalName: string; waitSeq: number }[] = [];
    for (let i = 0; i < waits.length; i += 2)
      open.push({ signalName: waits[i] as string, waitSeq: waits[i + 1] as number });
    return open;
  }

  /** A step done for good (completed, failed or cancelled): its last attempt and how it ended. */
  finishedStep(seq: number): { attempt: number; status: FinishedStatus } | undefined {
    const finished = this.finished ?? [];
    let packed: number | undefined;
    for (let i = finished.length - 2; i >= 0; i -= 2) {
      if (finished[i] !== seq) continue;
      packed = finished[i + 1]!;
      break;
    }
    if (packed === undefined) return undefined;
    return { attempt: Math.floor(packed / 4), status: FINISHED[packed % 4]! };
  }

  /** Records a step as done for good and lets go of what it held in flight. */
  private finish(step: StepState, status: FinishedStatus): void {
    this.stepsInFlight?.delete(step.seq);
    if (this.stepsInFlight?.size === 0) this.stepsInFlight = undefined;
    const packed = step.attempt * 4 + FINISHED.indexOf(status);
    // A literal is allocated at its size; push would reserve room for 17 at once.
    if (this.finished) this.finished.push(step.seq, packed);
    else this.finished = [step.seq, packed];
  }

  /** Whether the run already recorded the request with this ID (an empty ID names none). */
  hasRecorded(requestId: string): boolean {
    return requestId !== "" && this.requestIds?.has(requestId) === true;
  }

  /** How many events the run has (open runs only: a closed run keeps none). */
  get eventCount(): number {
    return this.history.length;
  }

  /** The run's events, decoded (for replay). */
  events(): HistoryEvent[] {
    return unpackEvents(this.history.all());
  }

  /**
   * Folds restored events and keeps the packed chunks they came from (current schema version)
   * as the run's history instead of packing each event again.
   */
  restoreChunks(
    events: readonly HistoryEvent[],
    sealed: readonly Buffer[],
    open: Buffer,
    onTimer: (timer: TimerEntry) => void,
    onTimerDropped?: (timer: TimerEntry) => void,
  ): void {
    for (const event of events) this.fold(event, onTimer, false, onTimerDropped);
    if (!this.closed)
      this.history = PackedHistory.restored(this.chunkBytes, sealed, open, events.length);
  }

  /**
   * Applies one event to the run's state. Used for live decisions and for restore alike, so
   * the state after restore is the state before the crash.
   */
  fold(
    event: HistoryEvent,
    onTimer: (timer: TimerEntry) => void,
    keep = true,
    /** A timer of the run that will never fire (cancelled): it leaves the partition's queue. */
    onTimerDropped: (timer: TimerEntry) => void = () => undefined,
  ): void {
    if (event.seq !== this.lastSeq + 1) {
      throw new Error(
        `history of ${this.workflowId} has a gap: event ${event.seq} follows ${this.lastSeq}`,
      );
    }
    this.lastSeq = event.seq;
    if (keep && !this.closed) this.history.append(event);
    const body = event.body;
    const addTimer = (timer: Omit<TimerEntry, "key" | "workflowId">) => {
      // Every field named, in one order: all timers then share one hidden class. Built by
      // spreading, a heap snapshot of 20,000 sleeping runs showed most timers with a shape
      // (and descriptor array) of their own, about 300 bytes a run.
      const entry: TimerEntry = {
        key: `${timer.kind}:${timer.seq}:${timer.attempt}`,
        workflowId: this.workflowId,
        kind: timer.kind,
        seq: timer.seq,
        attempt: timer.attempt,
        dueAt: timer.dueAt,
        signalName: timer.signalName,
      };
      this.timers.set(entry.key, entry);
      onTimer(entry);
    };
    const dropTimer = (key: string) => {
      const timer = this.timers.get(key);
      if (!timer) return;
      this.timers.delete(key);
      onTimerDropped(timer);
    };
    switch (body.type) {
      case "WorkflowStarted":
        this.parent = body.parent ?? null;
        this.executionDeadline = body.executionDeadline ?? null;
        this.executionTimeoutMs = body.executionTimeoutMs ?? null;
        if (this.executionDeadline !== null)
          addTimer({ kind: "workflowTimeout", seq: 0, attempt: 0, dueAt: this.executionDeadline });
        if (body.reset && body.reset.steps.length > 0) {
          // Command seqs count from a run's WorkflowStarted (unique across the runs of an ID):
          // the source's step n is this run's step n, whatever seq either run started at.
          const shift = this.firstSeq - body.reset.sourceRunStartSeq;
          this.resetSource = body.reset.sourceWorkflowId;
          this.reused = new Map(body.reset.steps.map((step) => [step.stepSeq + shift, step]));
        }
        break;
      case "StepScheduled": {
        let step = this.steps.get(body.stepSeq);
        if (step) {
          step.attempt = body.attempt;
          step.status = "scheduled";
          this.timers.delete(`retry:${body.stepSeq}:${body.attempt}`);
        } else {
          step = {
            seq: body.stepSeq,
            name: intern(body.stepName),
            taskQueue: intern(body.taskQueue),
            input: body.input,
            timeoutMs: body.timeoutMs,
            retryPolicy: body.retryPolicy,
            heartbeatTimeoutMs: body.heartbeatTimeoutMs ?? null,
            scheduleToStartTimeoutMs: body.scheduleToStartTimeoutMs ?? null,
            attempt: body.attempt,
            status: "scheduled",
            lastHeartbeatDetails: null,
          };
          (this.stepsInFlight ??= new Map()).set(body.stepSeq, step);
        }
        if (step.scheduleToStartTimeoutMs !== null) {
          addTimer({
            kind: "scheduleToStart",
            seq: body.stepSeq,
            attempt: body.attempt,
            dueAt: event.at + step.scheduleToStartTimeoutMs,
          });
        }
        break;
      }
      case "StepStarted": {
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        step.status = "started";
        this.timers.delete(`scheduleToStart:${body.stepSeq}:${body.attempt}`);
        if (step.timeoutMs !== null) {
          addTimer({
            kind: "stepTimeout",
            seq: body.stepSeq,
            attempt: body.attempt,
            dueAt: event.at + step.timeoutMs,
          });
        }
        // The heartbeat timeout counts from the start, then from each heartbeat.
        if (step.heartbeatTimeoutMs !== null) {
          addTimer({
            kind: "heartbeat",
            seq: body.stepSeq,
            attempt: body.attempt,
            dueAt: event.at + step.heartbeatTimeoutMs,
          });
        }
        break;
      }
      case "StepHeartbeatRecorded": {
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        // A heartbeat without details keeps the progress an earlier one reported.
        if (body.details !== null) step.lastHeartbeatDetails = body.details;
        // Replacing the entry under its key makes the queued one stale (see fireDue).
        if (step.heartbeatTimeoutMs !== null) {
          addTimer({
            kind: "heartbeat",
            seq: body.stepSeq,
            attempt: body.attempt,
            dueAt: event.at + step.heartbeatTimeoutMs,
          });
        }
        break;
      }
      case "StepCompleted":
      case "StepFailed": {
        if (body.type === "StepCompleted" && body.reusedFrom) this.reused?.delete(body.stepSeq);
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        this.timers.delete(`stepTimeout:${body.stepSeq}:${body.attempt}`);
        this.timers.delete(`heartbeat:${body.stepSeq}:${body.attempt}`);
        this.timers.delete(`scheduleToStart:${body.stepSeq}:${body.attempt}`);
        step.status =
          body.type === "StepCompleted" ? "completed" : body.willRetry ? "backoff" : "failed";
        // A step done for good takes no more reports: its input and retry policy leave memory
        // now, so an open run holds its steps in flight, not every step it ran. What a late or
        // repeated report is told stays exact: the attempt and how it ended, in one number.
        if (step.status !== "backoff") this.finish(step, step.status);
        break;
      }
      case "StepCancelled": {
        // Cancelled with its scope: done for good, whatever attempt runs or waits to retry; a
        // report still to come is ignored (see PartitionState.checkReport).
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        for (const kind of ["stepTimeout", "heartbeat", "scheduleToStart"] as const)
          dropTimer(`${kind}:${step.seq}:${step.attempt}`);
        dropTimer(`retry:${step.seq}:${step.attempt + 1}`);
        this.finish(step, "cancelled");
        break;
      }
      case "TimerCancelled":
        dropTimer(`sleep:${body.timerSeq}:0`);
        break;
      case "SignalWaitCancelled":
        dropTimer(`signalTimeout:${body.waitSeq}:0`);
        this.signalWaitOver(body.signalName, body.waitSeq);
        break;
      case "StepRetryScheduled":
        addTimer({
          kind: "retry",
          seq: body.stepSeq,
          attempt: body.nextAttempt,
          dueAt: body.dueAt,
        });
        break;
      case "TimerStarted":
        addTimer({ kind: "sleep", seq: body.timerSeq, attempt: 0, dueAt: body.dueAt });
        break;
      case "TimerFired":
        this.timers.delete(`sleep:${body.timerSeq}:0`);
        break;
      case "SignalWaitStarted":
        (this.openSignalWaits ??= []).push(body.signalName, body.waitSeq);
        if (body.dueAt !== null) {
          addTimer({
            kind: "signalTimeout",
            seq: body.waitSeq,
            attempt: 0,
            dueAt: body.dueAt,
            signalName: body.signalName,
          });
        }
        break;
      case "SignalWaitTimedOut":
        this.timers.delete(`signalTimeout:${body.waitSeq}:0`);
        this.signalWaitOver(body.signalName, body.waitSeq);
        break;
      case "SignalReceived": {
        if (body.requestId !== "") (this.requestIds ??= new Set()).add(body.requestId);
        const waits = this.openSignalWaits;
        const at = waits ? waits.indexOf(body.signalName) : -1;
        if (at >= 0) {
          const satisfied = waits![at + 1] as number;
          dropTimer(`signalTimeout:${satisfied}:0`);
          this.signalWaitOver(body.signalName, satisfied);
        }
        break;
      }
      case "WorkflowCancelRequested":
        this.cancelRequested = true;
        break;
      case "ChildWorkflowScheduled":
        (this.openChildren ??= new Map()).set(body.childSeq, {
          workflowId: body.childWorkflowId,
          parentClosePolicy: body.parentClosePolicy,
        });
        break;
      case "ChildWorkflowCancelRequested": {
        const child = this.openChildren?.get(body.childSeq);
        if (child) this.openChildren!.set(body.childSeq, { ...child, policyPassed: true });
        break;
      }
      case "ChildWorkflowCompleted":
      case "ChildWorkflowFailed":
        this.openChildren?.delete(body.childSeq);
        if (this.openChildren?.size === 0) this.openChildren = undefined;
        break;
      case "WorkflowBlocked":
        this.status = "blocked";
        this.blockedReason = body.reason;
        break;
      case "WorkflowCompleted":
      case "WorkflowFailed":
      case "WorkflowCancelled":
      case "WorkflowContinuedAsNew":
        this.status = RUN_ENDS[body.type];
        this.release();
        break;
      default:
        break;
    }
  }

  private signalWaitOver(name: string, seq: number): void {
    const waits = this.openSignalWaits;
    if (!waits) return;
    for (let i = 0; i < waits.length; i += 2) {
      if (waits[i] !== name || waits[i + 1] !== seq) continue;
      waits.splice(i, 2);
      break;
    }
    if (waits.length === 0) this.openSignalWaits = undefined;
  }

  /** A closed run keeps only what deduplication and late reports need. */
  private release(): void {
    this.chunksAtClose = this.history.writtenChunks;
    this.history = new PackedHistory(this.chunkBytes);
    this.undelivered = [];
    this.stepsInFlight = undefined;
    this.openChildren = undefined;
    this.openSignalWaits = undefined;
    this.timers.clear();
    this.requestIds = undefined;
    this.finished = undefined;
    this.execution = undefined;
  }
}
