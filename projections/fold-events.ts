import type { Logger } from "../core/logger";
import { CLOSED_STATUSES } from "../core/run-lifecycle";
import type { EventBody, HistoryEvent } from "../schemas/types";
import {
  iso,
  type AttemptPatch,
  type AttemptRow,
  type AttemptStatus,
  type ProjectionChanges,
  type RunInsertRow,
  type RunState,
  type SignalPatch,
  type SignalRow,
  type TimerKind,
  type TimerPatch,
  type TimerRow,
  type TimerStatus,
  type WaitItem,
} from "./rows";
import { RawJson } from "./sql-json";

/**
 * Folds a batch of history events into read-model rows. Pure: no I/O, no clock. `loaded` holds
 * the state of every run of the batch that earlier batches created. The rows are the same
 * however history is cut into batches, which is what makes a replay give identical tables.
 */
export function foldEvents(
  loaded: ReadonlyMap<string, RunState>,
  events: readonly HistoryEvent[],
  log: Logger,
): ProjectionChanges {
  const fold = new BatchFold(loaded, log);
  for (const event of events) fold.apply(event);
  return fold.changes();
}

interface RunWork {
  state: RunState;
  /** Set when the batch holds the run's WorkflowStarted: the row is inserted. */
  created?: Pick<
    RunInsertRow,
    | "workflow_type"
    | "input"
    | "idempotency_key"
    | "started_at"
    | "run_number"
    | "run_start_seq"
    | "definition_hash"
    | "parent_workflow_id"
  >;
  /** The run continues an earlier one of its workflow ID: the row is handed over whole. */
  restarted?: boolean;
  result: RawJson | null;
  error: unknown;
  closedAt: string | null;
  updatedAt: string;
  /** The run's ctx.setState value as of the batch, when the batch set it (or a new run did). */
  published?: RawJson | null;
}

type Entry<Full, Patch> = { isNew: true; row: Full } | { isNew: false; row: Patch };

/** Events that only workflow code issues: seeing one, a blocked run has been unblocked. */
const PROGRESS: ReadonlySet<EventBody["type"]> = new Set([
  "TimerStarted",
  "SignalWaitStarted",
  "ChildWorkflowScheduled",
]);
/** Failures of an attempt that ran out of time: its row's status is `timed_out`. */
const ATTEMPT_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  "STEP_TIMEOUT",
  "STEP_HEARTBEAT_TIMEOUT",
  "STEP_SCHEDULE_TO_START_TIMEOUT",
]);

class BatchFold {
  private readonly runs = new Map<string, RunWork>();
  private readonly attempts = new Map<string, Entry<AttemptRow, AttemptPatch>>();
  private readonly timers = new Map<string, Entry<TimerRow, TimerPatch>>();
  private readonly signals = new Map<string, Entry<SignalRow, SignalPatch>>();
  private readonly out: Pick<ProjectionChanges, "events" | "applied"> = {
    events: [],
    applied: [],
  };

  constructor(
    private readonly loaded: ReadonlyMap<string, RunState>,
    private readonly log: Logger,
  ) {}

  apply(event: HistoryEvent): void {
    const run = this.run(event);
    if (!run) return;
    const { state } = run;
    if (event.seq <= state.lastSeq) {
      // Records below the stored offset are skipped before this: this is history written twice.
      this.log.warn(
        { workflowId: event.workflowId, seq: event.seq, lastSeq: state.lastSeq },
        "duplicate history event skipped (the first copy stands)",
      );
      return;
    }
    if (event.seq !== state.lastSeq + 1) {
      this.log.warn(
        { workflowId: event.workflowId, seq: event.seq, lastSeq: state.lastSeq },
        "history has a gap; projecting what it holds",
      );
    }
    const at = iso(event.at, "event");
    state.lastSeq = event.seq;
    run.updatedAt = at;
    this.out.events.push({
      workflow_id: event.workflowId,
      seq: event.seq,
      type: event.body.type,
      at,
      body: event.body,
    });
    this.out.applied.push(event);
    const body = event.body;
    const progressed =
      PROGRESS.has(body.type) || (body.type === "StepScheduled" && body.attempt === 1);
    if (progressed && state.status === "blocked") {
      state.status = "running";
      state.blockedCode = null;
      state.blockedReason = null;
    }
    this.fold(run, event, at);
  }

  private run(event: HistoryEvent): RunWork | undefined {
    const existing = this.runs.get(event.workflowId);
    const loaded = this.loaded.get(event.workflowId);
    const body = event.body;
    const prior = existing?.state ?? loaded;
    if (body.type === "WorkflowStarted") {
      // A first run, or the next run of the workflow ID (the last closed or continued as
      // new), which takes the row over: right after the last's events, or above them when
      // the ID's start-deduplication retention had passed (the decider forgot the last seq).
      if (!prior) return this.startRun(event, body);
      const after =
        event.seq === prior.lastSeq + 1 ||
        (event.seq > prior.lastSeq && CLOSED_STATUSES.has(prior.status));
      if (prior.lastSeq > 0 && after) return this.startRun(event, body, prior);
    }
    if (existing) return existing;
    if (!loaded) {
      this.log.warn(
        { workflowId: event.workflowId, seq: event.seq, type: body.type },
        "event of a run whose WorkflowStarted was never seen; skipped",
      );
      return undefined;
    }
    const run: RunWork = {
      state: loaded,
      result: null,
      error: null,
      closedAt: null,
      updatedAt: "",
    };
    this.runs.set(event.workflowId, run);
    return run;
  }

  /**
   * A run that starts with this event: the workflow ID's first, or one after `prior` (its
   * history carries the seq on, and its row is handed over whole).
   */
  private startRun(
    event: HistoryEvent,
    body: Extract<EventBody, { type: "WorkflowStarted" }>,
    prior?: RunState,
  ): RunWork {
    const runNumber = (prior?.runNumber ?? 0) + 1;
    const run: RunWork = {
      state: {
        workflowId: event.workflowId,
        status: "running",
        lastSeq: prior?.lastSeq ?? 0,
        waitingOn: [],
        bufferedSignals: [],
        blockedCode: null,
        blockedReason: null,
        runNumber,
      },
      created: {
        workflow_type: body.workflowType,
        input: RawJson.from(body.input),
        idempotency_key: body.idempotencyKey,
        started_at: iso(event.at, "event"),
        run_number: runNumber,
        run_start_seq: event.seq,
        definition_hash: body.definitionHash ?? null,
        parent_workflow_id: body.parent?.workflowId ?? null,
      },
      restarted: prior !== undefined,
      // A run starts without a state, also when it takes over the row of an earlier run.
      published: null,
      result: null,
      error: null,
      closedAt: null,
      updatedAt: "",
    };
    this.runs.set(event.workflowId, run);
    return run;
  }

  private fold(run: RunWork, event: HistoryEvent, at: string): void {
    const { workflowId, body } = event;
    const state = run.state;
    switch (body.type) {
      case "WorkflowStarted":
        return;
      case "StepScheduled": {
        const retry = this.take(run, (w) => w.kind === "retry" && w.stepSeq === body.stepSeq);
        if (retry) this.finishTimer(workflowId, "retry", body.stepSeq, body.attempt, "fired", at);
        state.waitingOn.push({
          kind: "step",
          stepSeq: body.stepSeq,
          stepName: body.stepName,
          taskQueue: body.taskQueue,
          attempt: body.attempt,
          timeoutMs: body.timeoutMs,
          state: "scheduled",
          since: at,
        });
        this.attempts.set(attemptKey(workflowId, body.stepSeq, body.attempt), {
          isNew: true,
          row: {
            workflow_id: workflowId,
            step_seq: body.stepSeq,
            attempt: body.attempt,
            step_name: body.stepName,
            task_queue: body.taskQueue,
            status: "scheduled",
            worker_id: null,
            timeout_ms: body.timeoutMs,
            scheduled_at: at,
            started_at: null,
            finished_at: null,
            duration_ms: null,
            error: null,
            result: null,
          },
        });
        return;
      }
      case "StepStarted": {
        const step = this.stepItem(run, body.stepSeq, body.attempt);
        if (step) {
          step.state = "started";
          step.startedAt = at;
          step.workerId = body.workerId;
          if (step.timeoutMs !== null) {
            const due = iso(Date.parse(at) + step.timeoutMs, "event");
            this.startTimer(workflowId, "step_timeout", body.stepSeq, body.attempt, due);
          }
        }
        this.patchAttempt(workflowId, body.stepSeq, body.attempt, "started", {
          worker_id: body.workerId,
          started_at: at,
        });
        return;
      }
      case "StepCompleted": {
        const step = this.takeStep(run, body.stepSeq, body.attempt);
        if (step?.state === "started" && step.timeoutMs !== null) {
          this.finishTimer(workflowId, "step_timeout", body.stepSeq, body.attempt, "cancelled", at);
        }
        this.patchAttempt(workflowId, body.stepSeq, body.attempt, "completed", {
          worker_id: body.workerId,
          finished_at: at,
          result: RawJson.from(body.result),
        });
        return;
      }
      case "StepFailed": {
        const timedOut = ATTEMPT_TIMEOUT_CODES.has(body.error.code ?? "");
        const step = this.takeStep(run, body.stepSeq, body.attempt);
        if (step?.state === "started" && step.timeoutMs !== null) {
          // The decider fails an attempt that outlived its timeout with no worker ID.
          const fired = body.error.code === "STEP_TIMEOUT" && body.workerId === null;
          const status = fired ? "fired" : "cancelled";
          this.finishTimer(workflowId, "step_timeout", body.stepSeq, body.attempt, status, at);
        }
        this.patchAttempt(
          workflowId,
          body.stepSeq,
          body.attempt,
          timedOut ? "timed_out" : "failed",
          { worker_id: body.workerId, finished_at: at, error: body.error },
        );
        if (body.willRetry) {
          state.waitingOn.push({
            kind: "retry",
            stepSeq: body.stepSeq,
            stepName: step?.stepName ?? "",
            taskQueue: step?.taskQueue ?? "",
            nextAttempt: body.attempt + 1,
            since: at,
            dueAt: null,
          });
        }
        return;
      }
      case "StepRetryScheduled": {
        const due = iso(body.dueAt, "event");
        const retry = state.waitingOn.find(
          (w): w is Extract<WaitItem, { kind: "retry" }> =>
            w.kind === "retry" && w.stepSeq === body.stepSeq,
        );
        if (retry) {
          retry.nextAttempt = body.nextAttempt;
          retry.dueAt = due;
        }
        this.startTimer(workflowId, "retry", body.stepSeq, body.nextAttempt, due);
        return;
      }
      case "StepResultIgnored":
        return;
      case "TimerStarted": {
        const due = iso(body.dueAt, "event");
        state.waitingOn.push({ kind: "timer", timerSeq: body.timerSeq, since: at, dueAt: due });
        this.startTimer(workflowId, "sleep", body.timerSeq, 0, due);
        return;
      }
      case "TimerFired":
        this.take(run, (w) => w.kind === "timer" && w.timerSeq === body.timerSeq);
        this.finishTimer(workflowId, "sleep", body.timerSeq, 0, "fired", at);
        return;
      case "SignalWaitStarted": {
        // Mirrors the workflow code: a buffered signal of that name answers the wait at once.
        const index = state.bufferedSignals.findIndex((s) => s.name === body.signalName);
        if (index >= 0) {
          const [signal] = state.bufferedSignals.splice(index, 1);
          this.consumeSignal(workflowId, signal!.seq, body.waitSeq);
          return;
        }
        const due = body.dueAt === null ? null : iso(body.dueAt, "event");
        state.waitingOn.push({
          kind: "signal",
          waitSeq: body.waitSeq,
          signalName: body.signalName,
          since: at,
          dueAt: due,
        });
        if (due !== null) this.startTimer(workflowId, "signal_timeout", body.waitSeq, 0, due);
        return;
      }
      case "SignalWaitTimedOut":
        this.take(run, (w) => w.kind === "signal" && w.waitSeq === body.waitSeq);
        this.finishTimer(workflowId, "signal_timeout", body.waitSeq, 0, "fired", at);
        return;
      case "SignalReceived": {
        const seq = event.seq;
        this.signals.set(signalKey(workflowId, seq), {
          isNew: true,
          row: {
            workflow_id: workflowId,
            seq,
            name: body.signalName,
            payload: RawJson.from(body.payload),
            request_id: body.requestId,
            received_at: at,
            wait_seq: null,
          },
        });
        // The oldest wait for that name takes it, as in the workflow code; else it is buffered.
        const wait = this.take(
          run,
          (w) => w.kind === "signal" && w.signalName === body.signalName,
        ) as Extract<WaitItem, { kind: "signal" }> | undefined;
        if (!wait) {
          state.bufferedSignals.push({ seq, name: body.signalName });
          return;
        }
        this.consumeSignal(workflowId, seq, wait.waitSeq);
        if (wait.dueAt !== null) {
          this.finishTimer(workflowId, "signal_timeout", wait.waitSeq, 0, "cancelled", at);
        }
        return;
      }
      case "StateUpdated":
        run.published = RawJson.from(body.state);
        return;
      case "WorkflowBlocked":
        state.status = "blocked";
        state.blockedCode = body.code;
        state.blockedReason = body.reason;
        return;
      case "WorkflowCompleted":
        run.result = RawJson.from(body.result);
        this.close(run, workflowId, "completed", at);
        return;
      case "WorkflowFailed":
        run.error = body.error;
        this.close(run, workflowId, "failed", at);
        return;
      case "StepHeartbeatRecorded":
      case "PatchMarked":
        // Kept in weft_events only: neither changes what the run waits on or its attempts.
        return;
      case "WorkflowCancelRequested":
        // The run stays running while its code cleans up (ctx.nonCancellable); its event is in
        // weft_events, and WorkflowCancelled (or how the code ends) closes the row.
        return;
      case "WorkflowCancelled":
        // A terminate is a cancel that ran no code: told apart in the row's error.
        run.error = body.terminated
          ? { code: "WORKFLOW_CANCELLED", reason: body.reason, terminated: true }
          : { code: "WORKFLOW_CANCELLED", reason: body.reason };
        this.close(run, workflowId, "cancelled", at);
        return;
      case "WorkflowContinuedAsNew":
        // The row stays the workflow ID's, running: the next run's WorkflowStarted follows.
        this.close(run, workflowId, "running", at);
        run.closedAt = null;
        return;
      case "ChildWorkflowScheduled":
        state.waitingOn.push({
          kind: "child",
          childSeq: body.childSeq,
          childWorkflowId: body.childWorkflowId,
          workflowType: body.workflowType,
          since: at,
        });
        return;
      case "ChildWorkflowCompleted":
      case "ChildWorkflowFailed":
      case "ChildWorkflowCancelRequested":
        // A cancelled scope no longer awaits the child, though its close is still to come.
        this.take(run, (w) => w.kind === "child" && w.childSeq === body.childSeq);
        return;
      case "StepCancelled": {
        // Cancelled with its scope: its attempt in flight, or the retry it waited for, ends.
        const step = this.take(
          run,
          (w) => (w.kind === "step" || w.kind === "retry") && w.stepSeq === body.stepSeq,
        );
        if (step?.kind === "step") {
          this.patchAttempt(workflowId, step.stepSeq, step.attempt, "cancelled", {
            finished_at: at,
          });
          if (step.state === "started" && step.timeoutMs !== null)
            this.finishTimer(
              workflowId,
              "step_timeout",
              step.stepSeq,
              step.attempt,
              "cancelled",
              at,
            );
        } else if (step?.kind === "retry" && step.dueAt !== null) {
          this.finishTimer(workflowId, "retry", step.stepSeq, step.nextAttempt, "cancelled", at);
        }
        return;
      }
      case "TimerCancelled":
        if (this.take(run, (w) => w.kind === "timer" && w.timerSeq === body.timerSeq))
          this.finishTimer(workflowId, "sleep", body.timerSeq, 0, "cancelled", at);
        return;
      case "SignalWaitCancelled": {
        const wait = this.take(run, (w) => w.kind === "signal" && w.waitSeq === body.waitSeq);
        if (wait?.kind === "signal" && wait.dueAt !== null)
          this.finishTimer(workflowId, "signal_timeout", body.waitSeq, 0, "cancelled", at);
        return;
      }
    }
  }

  /** A closed run waits on nothing: its open attempts and pending timers are cancelled. */
  private close(run: RunWork, workflowId: string, status: RunWork["state"]["status"], at: string) {
    const state = run.state;
    for (const item of state.waitingOn) {
      switch (item.kind) {
        case "step":
          this.patchAttempt(workflowId, item.stepSeq, item.attempt, "cancelled", {});
          if (item.state === "started" && item.timeoutMs !== null) {
            this.finishTimer(
              workflowId,
              "step_timeout",
              item.stepSeq,
              item.attempt,
              "cancelled",
              at,
            );
          }
          break;
        case "retry":
          if (item.dueAt !== null) {
            this.finishTimer(workflowId, "retry", item.stepSeq, item.nextAttempt, "cancelled", at);
          }
          break;
        case "timer":
          this.finishTimer(workflowId, "sleep", item.timerSeq, 0, "cancelled", at);
          break;
        case "signal":
          if (item.dueAt !== null) {
            this.finishTimer(workflowId, "signal_timeout", item.waitSeq, 0, "cancelled", at);
          }
          break;
        case "child":
          // Its own row says how it ends; the parent-close policy reaches it on its own.
          break;
      }
    }
    state.waitingOn = [];
    state.status = status;
    state.blockedCode = null;
    state.blockedReason = null;
    run.closedAt = at;
  }

  private take(run: RunWork, match: (item: WaitItem) => boolean): WaitItem | undefined {
    const index = run.state.waitingOn.findIndex(match);
    if (index < 0) return undefined;
    return run.state.waitingOn.splice(index, 1)[0];
  }

  private stepItem(
    run: RunWork,
    stepSeq: number,
    attempt: number,
  ): Extract<WaitItem, { kind: "step" }> | undefined {
    return run.state.waitingOn.find(
      (w): w is Extract<WaitItem, { kind: "step" }> =>
        w.kind === "step" && w.stepSeq === stepSeq && w.attempt === attempt,
    );
  }

  private takeStep(
    run: RunWork,
    stepSeq: number,
    attempt: number,
  ): Extract<WaitItem, { kind: "step" }> | undefined {
    const step = this.stepItem(run, stepSeq, attempt);
    if (step) this.take(run, (w) => w === step);
    return step;
  }

  /** Changes an attempt's status; a null or missing field leaves that column as it is. */
  private patchAttempt(
    workflowId: string,
    stepSeq: number,
    attempt: number,
    status: AttemptStatus,
    fields: Partial<
      Pick<AttemptPatch, "worker_id" | "started_at" | "finished_at" | "error" | "result">
    >,
  ): void {
    const key = attemptKey(workflowId, stepSeq, attempt);
    const entry = this.attempts.get(key) ?? {
      isNew: false as const,
      row: {
        workflow_id: workflowId,
        step_seq: stepSeq,
        attempt,
        status,
        worker_id: null,
        started_at: null,
        finished_at: null,
        error: null,
        result: null,
      },
    };
    const row = entry.row;
    row.status = status;
    row.worker_id = fields.worker_id ?? row.worker_id;
    row.started_at = fields.started_at ?? row.started_at;
    row.finished_at = fields.finished_at ?? row.finished_at;
    row.error = fields.error ?? row.error;
    row.result = fields.result ?? row.result;
    this.attempts.set(key, entry);
  }

  private startTimer(
    workflowId: string,
    kind: TimerKind,
    seq: number,
    attempt: number,
    due: string,
  ) {
    this.timers.set(timerKey(workflowId, kind, seq, attempt), {
      isNew: true,
      row: {
        workflow_id: workflowId,
        kind,
        seq,
        attempt,
        due_at: due,
        fired_at: null,
        status: "pending",
      },
    });
  }

  private finishTimer(
    workflowId: string,
    kind: TimerKind,
    seq: number,
    attempt: number,
    status: Exclude<TimerStatus, "pending">,
    at: string,
  ): void {
    const key = timerKey(workflowId, kind, seq, attempt);
    const entry = this.timers.get(key) ?? {
      isNew: false as const,
      row: { workflow_id: workflowId, kind, seq, attempt, fired_at: null, status },
    };
    entry.row.status = status;
    entry.row.fired_at = status === "fired" ? at : null;
    this.timers.set(key, entry);
  }

  private consumeSignal(workflowId: string, seq: number, waitSeq: number): void {
    const key = signalKey(workflowId, seq);
    const entry = this.signals.get(key);
    if (entry) entry.row.wait_seq = waitSeq;
    else
      this.signals.set(key, {
        isNew: false,
        row: { workflow_id: workflowId, seq, wait_seq: waitSeq },
      });
  }

  changes(): ProjectionChanges {
    const out: ProjectionChanges = {
      runInserts: [],
      runUpdates: [],
      runRestarts: [],
      events: this.out.events,
      attemptInserts: [],
      attemptUpdates: [],
      timerUpserts: [],
      timerUpdates: [],
      signalInserts: [],
      signalUpdates: [],
      applied: this.out.applied,
    };
    for (const run of this.runs.values()) {
      if (run.updatedAt === "") continue;
      const { state } = run;
      const common = {
        workflow_id: state.workflowId,
        status: state.status,
        result: run.result,
        error: run.error,
        blocked_code: state.blockedCode,
        blocked_reason: state.blockedReason,
        waiting_on: state.waitingOn,
        buffered_signals: state.bufferedSignals,
        closed_at: run.closedAt,
        last_seq: state.lastSeq,
        updated_at: run.updatedAt,
      };
      const runState = run.published ?? null;
      if (run.restarted) out.runRestarts.push({ ...common, ...run.created!, state: runState });
      else if (run.created) out.runInserts.push({ ...common, ...run.created, state: runState });
      else
        out.runUpdates.push({
          ...common,
          state: runState,
          state_set: run.published === undefined ? 0 : 1,
        });
    }
    for (const entry of this.attempts.values()) {
      if (entry.isNew) {
        const row = entry.row;
        row.duration_ms =
          row.started_at !== null && row.finished_at !== null
            ? Date.parse(row.finished_at) - Date.parse(row.started_at)
            : null;
        out.attemptInserts.push(row);
      } else out.attemptUpdates.push(entry.row);
    }
    for (const entry of this.timers.values()) {
      if (entry.isNew) out.timerUpserts.push(entry.row);
      else out.timerUpdates.push(entry.row);
    }
    for (const entry of this.signals.values()) {
      if (entry.isNew) out.signalInserts.push(entry.row);
      else out.signalUpdates.push(entry.row);
    }
    return out;
  }
}

function attemptKey(workflowId: string, stepSeq: number, attempt: number): string {
  return `${workflowId}\u0000${stepSeq}\u0000${attempt}`;
}
function timerKey(workflowId: string, kind: TimerKind, seq: number, attempt: number): string {
  return `${workflowId}\u0000${kind}\u0000${seq}\u0000${attempt}`;
}
function signalKey(workflowId: string, seq: number): string {
  return `${workflowId}\u0000${seq}`;
}
