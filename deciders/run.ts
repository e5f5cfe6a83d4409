import type { HistoryEvent, JsonText } from "../schemas/types";
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
export type RunStatus = "running" | "blocked" | "completed" | "failed" | "cancelled" | "continued";

export type TimerKind = "sleep" | "signalTimeout" | "retry" | "stepTimeout";

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

export interface StepState {
  readonly seq: number;
  readonly name: string;
  readonly taskQueue: string;
  readonly input: JsonText;
  readonly timeoutMs: number | null;
  /** The retry policy as recorded (JSON): parsed only when an attempt fails. */
  readonly retryPolicy: string;
  attempt: number;
  status: StepStatus;
}

const CLOSED_STATUS = {
  WorkflowCompleted: "completed",
  WorkflowFailed: "failed",
  WorkflowCancelled: "cancelled",
  WorkflowContinuedAsNew: "continued",
} as const;

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
  readonly steps = new Map<number, StepState>();
  readonly timers = new Map<string, TimerEntry>();
  execution: WorkflowExecution | undefined;
  /** Events appended since the execution last saw history. */
  undelivered: HistoryEvent[] = [];
  blockedReason: string | undefined;
  /** History holds a WorkflowCancelRequested: a further cancel is not recorded again. */
  cancelRequested = false;
  /**
   * Request IDs of the signals this open run has recorded: a command that carries one again (a
   * client retrying a call it could not confirm) is not recorded twice. Folded from history, so
   * a restore rebuilds it; dropped with the rest when the run closes (a closed run takes no
   * signal or cancel), so it is bounded by the run's own history.
   */
  private requestIds: Set<string> | undefined;

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
  ): void {
    for (const event of events) this.fold(event, onTimer, false);
    if (!this.closed)
      this.history = PackedHistory.restored(this.chunkBytes, sealed, open, events.length);
  }

  /**
   * Applies one event to the run's state. Used for live decisions and for restore alike, so
   * the state after restore is the state before the crash.
   */
  fold(event: HistoryEvent, onTimer: (timer: TimerEntry) => void, keep = true): void {
    if (event.seq !== this.lastSeq + 1) {
      throw new Error(
        `history of ${this.workflowId} has a gap: event ${event.seq} follows ${this.lastSeq}`,
      );
    }
    this.lastSeq = event.seq;
    if (keep && !this.closed) this.history.append(event);
    const body = event.body;
    const addTimer = (timer: Omit<TimerEntry, "key" | "workflowId">) => {
      const entry: TimerEntry = {
        ...timer,
        workflowId: this.workflowId,
        key: `${timer.kind}:${timer.seq}:${timer.attempt}`,
      };
      this.timers.set(entry.key, entry);
      onTimer(entry);
    };
    switch (body.type) {
      case "StepScheduled": {
        const existing = this.steps.get(body.stepSeq);
        if (existing) {
          existing.attempt = body.attempt;
          existing.status = "scheduled";
          this.timers.delete(`retry:${body.stepSeq}:${body.attempt}`);
        } else {
          this.steps.set(body.stepSeq, {
            seq: body.stepSeq,
            name: intern(body.stepName),
            taskQueue: intern(body.taskQueue),
            input: body.input,
            timeoutMs: body.timeoutMs,
            retryPolicy: body.retryPolicy,
            attempt: body.attempt,
            status: "scheduled",
          });
        }
        break;
      }
      case "StepStarted": {
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        step.status = "started";
        if (step.timeoutMs !== null) {
          addTimer({
            kind: "stepTimeout",
            seq: body.stepSeq,
            attempt: body.attempt,
            dueAt: event.at + step.timeoutMs,
          });
        }
        break;
      }
      case "StepCompleted":
      case "StepFailed": {
        const step = this.steps.get(body.stepSeq);
        if (!step) break;
        this.timers.delete(`stepTimeout:${body.stepSeq}:${body.attempt}`);
        step.status =
          body.type === "StepCompleted" ? "completed" : body.willRetry ? "backoff" : "failed";
        break;
      }
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
        break;
      case "SignalReceived":
        if (body.requestId !== "") (this.requestIds ??= new Set()).add(body.requestId);
        break;
      case "WorkflowCancelRequested":
        this.cancelRequested = true;
        break;
      case "WorkflowBlocked":
        this.status = "blocked";
        this.blockedReason = body.reason;
        break;
      case "WorkflowCompleted":
      case "WorkflowFailed":
      case "WorkflowCancelled":
      case "WorkflowContinuedAsNew":
        this.status = CLOSED_STATUS[body.type];
        this.release();
        break;
      default:
        break;
    }
  }

  /** A closed run keeps only what deduplication and late reports need. */
  private release(): void {
    this.chunksAtClose = this.history.writtenChunks;
    this.history = new PackedHistory(this.chunkBytes);
    this.undelivered = [];
    this.steps.clear();
    this.timers.clear();
    this.requestIds = undefined;
    this.execution = undefined;
  }
}
