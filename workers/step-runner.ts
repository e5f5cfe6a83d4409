import { backoffMs, type Backoff } from "../core/backoff";
import { systemClock, type Clock } from "../core/clock";
import { InvalidInputError, StepCancelledError, WeftError } from "../core/errors";
import { attemptPath, taskRecordKey } from "../core/ids";
import { noFaults, type FaultSeam } from "../core/fault-points";
import { toJsonText } from "../core/json";
import type { Logger } from "../core/logger";
import { SignalFanOut } from "../core/signal-fan-out";
import type { Command, CommandBody, ErrorInfo, StepCancel, StepTask } from "../schemas/types";
import type { StepContext, StepDefinition } from "../workflow/definitions";
import { errorInfo } from "../workflow/execution";
import type { AttemptOutcome, WorkerMetrics } from "./metrics";
import type { AttemptRef } from "./attempt";
import type { StepLease, StepLeases } from "./step-lease";
import { HeartbeatReporter, heartbeatDetails } from "./heartbeat-reporter";
import { HeldStart } from "./held-start";
import { StepLogCapture, type StepLogSink } from "./step-log";
import type { TaskDelivery } from "./task-consumer";

/**
 * What became of a task:
 * - reported: its result was reported (its offset may be committed);
 * - skipped: an earlier run already reported it (its offset may be committed);
 * - abandoned: nothing was reported (the worker stopped before the attempt ran, under it, or
 *   before its result could be sent): its offset must stay uncommitted so the task is
 *   delivered again once this worker has left the group.
 */
export type TaskOutcome = "reported" | "skipped" | "abandoned";

export interface CommandSender {
  send(command: Command): Promise<void>;
}

export interface StepRunnerOptions {
  workerId: string;
  steps: ReadonlyMap<string, StepDefinition>;
  leases: StepLeases;
  commands: CommandSender;
  /** Aborted when the worker starts stopping: no new attempt starts. */
  stopping: AbortSignal;
  /**
   * Aborted when the shutdown grace is over: running steps see their signal abort, and a
   * result that could not be reported yet is given up.
   */
  shutdown: AbortSignal;
  /** Between tries of a result report; default REPORT_BACKOFF. */
  reportBackoff?: Backoff;
  /** Named fault points (`worker.report`); default none. */
  faults?: FaultSeam;
  metrics?: WorkerMetrics;
  /** Stamps the reports' times; default the system clock. */
  clock?: Clock;
  /**
   * Where each attempt's `step.log` lines go once it ends (the step-logs topic, or the test
   * kit's memory); default nowhere (the lines still go to the worker's log).
   */
  stepLogs?: StepLogSink;
}

/**
 * Between tries of a result report: short at first (a blip), then every ~2 s, for as long as
 * the worker runs. Kafka's own retries (the command producer's) run inside each try.
 */
export const REPORT_BACKOFF: Backoff = Object.freeze({ initialMs: 100, maxMs: 2000, jitter: 0.3 });

/** After the first failed try of a report, one warning per this many. */
const REPORT_WARN_EVERY = 10;

/** The reason a step's signal carries when the worker shuts down under it. */
export class WorkerShutdownError extends Error {
  constructor() {
    super("the worker is shutting down");
    this.name = "WorkerShutdownError";
  }
}

/**
 * Cancel notices kept for attempts that have not ended here: a notice may be read before its
 * attempt starts (the task is handed to the pool a moment before), and one for an attempt that
 * never runs here (another worker took it) is dropped oldest first past this many.
 */
const MAX_CANCEL_NOTICES = 10_000;

/**
 * Attempts whose result this process reported (acknowledged by Kafka or committed by the
 * decider beside it), newest last: a later delivery of one (the record of a task the decider
 * handed over here) ends at once instead of asking the lease store. Older ones ask it.
 */
const MAX_REPORTED_HERE = 10_000;

/** Runs one attempt of a step: done-marker, lease, started report, handler, result report. */
export class StepRunner {
  /** Attempts running in this process, so a redelivery waits for the local run. */
  private readonly local = new Map<string, Promise<TaskOutcome>>();
  /** The same runs by their task record's key (`workflowId/stepSeq`): see `runningStep`. */
  private readonly localSteps = new Map<string, Promise<TaskOutcome>>();
  /** Cancel notices by attempt, until the attempt ends here (see MAX_CANCEL_NOTICES). */
  private readonly cancels = new Map<string, StepCancelledError>();
  /** The abort controller of each attempt whose handler runs here. */
  private readonly controllers = new Map<string, AbortController>();
  private readonly reportedHere = new Set<string>();
  private readonly reportBackoff: Backoff;
  private readonly faults: FaultSeam;
  private readonly clock: Clock;
  /**
   * Every attempt in flight waits on `stopping` and `shutdown` (its step's signal, lease and
   * report retries) through these: one listener on each signal, not one per attempt.
   */
  private readonly stopping: SignalFanOut;
  private readonly shutdown: SignalFanOut;

  constructor(private readonly options: StepRunnerOptions) {
    this.stopping = new SignalFanOut(options.stopping);
    this.shutdown =
      options.shutdown === options.stopping ? this.stopping : new SignalFanOut(options.shutdown);
    this.reportBackoff = options.reportBackoff ?? REPORT_BACKOFF;
    this.faults = options.faults ?? noFaults;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * The attempt's run was cancelled (a StepCancel notice): its step's signal aborts with
   * StepCancelledError if its handler runs here, or, if it has not started yet, its handler
   * never runs. Either way the attempt then fails for good, unless the handler completes.
   */
  cancel(notice: StepCancel, log: Logger): void {
    const key = attemptPath(notice);
    const error = new StepCancelledError(
      notice.workflowId,
      notice.stepSeq,
      notice.attempt,
      notice.reason,
    );
    this.cancels.set(key, error);
    keepNewest(this.cancels, MAX_CANCEL_NOTICES);
    const controller = this.controllers.get(key);
    if (controller && !controller.signal.aborted) {
      log.info({ reason: notice.reason }, "run cancelled: aborting the step's signal");
      controller.abort(error);
    } else {
      log.debug("run cancelled: the attempt does not run here (yet)");
    }
  }

  /**
   * The run in this process of an attempt of the step whose task record has this key
   * (`workflowId/stepSeq`, as the decider keys tasks); undefined when none runs here.
   */
  runningStep(key: string): Promise<TaskOutcome> | undefined {
    return this.localSteps.get(key);
  }

  /** Never rejects. */
  run(task: StepTask, log: Logger, delivery?: TaskDelivery): Promise<TaskOutcome> {
    const key = attemptPath(task);
    const previous = this.local.get(key);
    const run = (async (): Promise<TaskOutcome> => {
      if (previous) {
        log.debug("attempt delivered again while it runs here; waiting for the local run");
        await previous;
      }
      if (this.reportedHere.has(key)) return "skipped";
      try {
        const outcome = await this.runOnce(task, log, delivery);
        if (outcome === "reported") {
          this.reportedHere.add(key);
          keepNewest(this.reportedHere, MAX_REPORTED_HERE);
        }
        return outcome;
      } catch (err) {
        log.error({ err }, "unexpected error running the task; it will be delivered again");
        return "abandoned";
      }
    })();
    this.local.set(key, run);
    const step = taskRecordKey(task);
    this.localSteps.set(step, run);
    const forget = (): void => {
      if (this.localSteps.get(step) === run) this.localSteps.delete(step);
      if (this.local.get(key) !== run) return;
      this.local.delete(key);
      this.cancels.delete(key);
    };
    void run.then(forget, forget);
    return run;
  }

  private async runOnce(
    task: StepTask,
    log: Logger,
    delivery: TaskDelivery | undefined,
  ): Promise<TaskOutcome> {
    const ref: AttemptRef = task;
    const taken = await this.options.leases.acquire(ref, log, this.stopping);
    if (taken.kind === "done") {
      log.info("attempt already reported; skipping");
      return "skipped";
    }
    if (taken.kind === "stopped") {
      log.info("worker is stopping; leaving the task to be delivered again");
      return "abandoned";
    }
    const lease = taken.lease;
    let reported = false;
    let start: HeldStart | undefined;
    let startedAt: number | undefined;
    const reportStarted = (): HeldStart => {
      startedAt = Date.now();
      this.observeStart(task, delivery, startedAt);
      const report: CommandBody = {
        type: "ReportStepStarted",
        ...this.ids(task),
        startedAt: this.clock.now(),
      };
      // One try: the decider needs no started report to apply the result.
      start = new HeldStart(report.startedAt, () => this.sendOnce(task, report, log));
      return start;
    };
    try {
      const capture = new StepLogCapture(log, this.clock);
      let body: CommandBody | undefined;
      try {
        body = await this.execute(task, lease, log, reportStarted, capture);
      } finally {
        this.deliverLogs(task, capture, log);
      }
      this.observeClose(task, delivery, startedAt, body);
      // A start not reported yet goes with the result, or not at all when there is none (the
      // task is delivered again).
      const withResult = start?.takeBack() === true;
      if (body === undefined) {
        await start?.sent;
        return "abandoned";
      }
      if (withResult && start) body = withStart(body, start.startedAt);
      // The result goes out without waiting for the started report's ack: one producer keeps
      // their order, and a step's two reports then often reach the decider together.
      [, reported] = await Promise.all([start?.sent, this.report(task, body, log)]);
      return reported ? "reported" : "abandoned";
    } finally {
      // A reported attempt's done-marker is set as its lease goes back: a redelivery of its
      // task then finds it done rather than free.
      if (reported) await lease.releaseDone(delivery?.position);
      else await lease.release();
    }
  }

  /** Runs the handler; resolves with the report to send, or undefined when shut down under it. */
  private async execute(
    task: StepTask,
    lease: StepLease,
    log: Logger,
    reportStarted: () => HeldStart,
    capture: StepLogCapture,
  ): Promise<CommandBody | undefined> {
    const { workerId, steps } = this.options;
    const ids = this.ids(task);
    const failed = (error: ErrorInfo): CommandBody => ({ type: "ReportStepFailed", ...ids, error });

    const step = steps.get(task.stepName);
    if (!step) {
      log.error("no step of this name is hosted by this worker; failing the attempt for good");
      return failed(
        terminal(
          new WeftError(
            "UNKNOWN_STEP",
            `worker ${workerId} does not host a step named ${task.stepName}`,
          ),
        ),
      );
    }
    let input: unknown;
    try {
      input = JSON.parse(task.input);
    } catch (err) {
      return failed(
        terminal(
          new InvalidInputError(
            `input of step ${task.stepName} is not JSON: ${(err as Error).message}`,
          ),
        ),
      );
    }

    const key = attemptPath(task);
    const cancelled = this.cancels.get(key);
    if (cancelled) {
      log.info("the run was cancelled before the attempt started; not running it");
      return failed(terminal(cancelled));
    }

    const start = reportStarted();

    const controller = new AbortController();
    this.controllers.set(key, controller);
    const forgetShutdown = this.shutdown.onAbort(() => controller.abort(new WorkerShutdownError()));
    let timer: NodeJS.Timeout | undefined;
    let heartbeats: HeartbeatReporter | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      const hbMs = task.heartbeatTimeoutMs;
      if (hbMs !== null && hbMs > 0) {
        heartbeats = new HeartbeatReporter(
          hbMs,
          (details) => {
            // History keeps the order: the start before any heartbeat of the attempt.
            void start.flush();
            return this.heartbeat(task, details, log);
          },
          () => {
            const error = new WeftError(
              "STEP_HEARTBEAT_TIMEOUT",
              `step ${task.stepName} attempt ${task.attempt} did not heartbeat for ${hbMs} ms`,
              { heartbeatTimeoutMs: hbMs },
            );
            controller.abort(error);
            reject(error);
          },
        );
      }
      if (task.timeoutMs === null || task.timeoutMs <= 0) return;
      const ms = task.timeoutMs;
      timer = setTimeout(() => {
        const error = new WeftError(
          "STEP_TIMEOUT",
          `step ${task.stepName} attempt ${task.attempt} ran longer than its timeout of ${ms} ms`,
          { timeoutMs: ms },
        );
        controller.abort(error);
        reject(error);
      }, ms);
    });
    const context: StepContext = {
      workflowId: task.workflowId,
      workflowType: task.workflowType,
      stepName: task.stepName,
      stepSeq: task.stepSeq,
      attempt: task.attempt,
      idempotencyKey: task.idempotencyKey,
      signal: controller.signal,
      heartbeat: (details?: unknown) => {
        // Checked even without a heartbeat timeout: bad details are the step's bug either way.
        if (heartbeats) heartbeats.beat(details);
        else heartbeatDetails(details);
        return lease.extend();
      },
      lastHeartbeatDetails: parseDetails(task.lastHeartbeatDetails),
      log: capture.log,
    };

    const began = Date.now();
    log.debug("step started");
    let result: unknown;
    let succeeded = false;
    try {
      result = await Promise.race([
        Promise.resolve().then(() => step.handler(input, context)),
        timedOut,
      ]);
      succeeded = true;
    } catch (err) {
      if (controller.signal.reason instanceof WorkerShutdownError) {
        log.info(
          { err },
          "step stopped by the worker shutting down; the task will be delivered again",
        );
        return undefined;
      }
      if (controller.signal.reason instanceof StepCancelledError) {
        log.info({ err, durationMs: Date.now() - began }, "step stopped by its run's cancel");
        return failed(terminal(controller.signal.reason));
      }
      log.info({ err, durationMs: Date.now() - began }, "step failed");
      return failed(errorInfo(err));
    } finally {
      clearTimeout(timer);
      forgetShutdown();
      this.controllers.delete(key);
      // A failed attempt's last details go out before its failure: the retry resumes from them.
      await heartbeats?.close(!succeeded);
    }
    let text: string;
    try {
      text = toJsonText(result, `result of step ${task.stepName}`);
    } catch (err) {
      log.warn({ err }, "step result is not serialisable; failing the attempt for good");
      return failed(terminal(err));
    }
    log.debug({ durationMs: Date.now() - began }, "step completed");
    return { type: "ReportStepCompleted", ...ids, result: text };
  }

  /**
   * Hands the attempt's lines on as it ends, before its report is sent and without waiting:
   * they travel apart from history, so the projector may get them before or after the report.
   */
  private deliverLogs(task: StepTask, capture: StepLogCapture, log: Logger): void {
    const record = capture.close({
      workflowId: task.workflowId,
      stepSeq: task.stepSeq,
      attempt: task.attempt,
      stepName: task.stepName,
      workerId: this.options.workerId,
    });
    if (!record || !this.options.stepLogs) return;
    try {
      this.options.stepLogs.deliver(record, log);
    } catch (err) {
      log.warn(
        { err },
        "could not hand on the step's log lines; they are in this worker's log only",
      );
    }
  }

  private observeStart(task: StepTask, delivery: TaskDelivery | undefined, at: number): void {
    const { metrics } = this.options;
    if (!metrics || !delivery || !Number.isFinite(delivery.scheduledAt)) return;
    const seconds = Math.max(0, at - delivery.scheduledAt) / 1000;
    metrics.scheduleToStart.observe({ queue: delivery.queue, step: task.stepName }, seconds);
  }

  /** An attempt that never started (unknown step, bad input) counts, with no duration. */
  private observeClose(
    task: StepTask,
    delivery: TaskDelivery | undefined,
    startedAt: number | undefined,
    body: CommandBody | undefined,
  ): void {
    const { metrics } = this.options;
    if (!metrics || !delivery) return;
    const outcome: AttemptOutcome =
      body === undefined
        ? "abandoned"
        : body.type === "ReportStepCompleted"
          ? "completed"
          : "failed";
    const labels = { queue: delivery.queue, step: task.stepName, outcome };
    metrics.attempts.inc(labels);
    if (startedAt !== undefined) {
      metrics.startToClose.observe(labels, Math.max(0, Date.now() - startedAt) / 1000);
    }
  }

  /** One heartbeat to the decider (ReportStepHeartbeat); a failed send is only logged. */
  private async heartbeat(task: StepTask, details: string | null, log: Logger): Promise<void> {
    await this.sendOnce(task, { type: "ReportStepHeartbeat", ...this.ids(task), details }, log);
  }

  private ids(task: StepTask): { stepSeq: number; attempt: number; workerId: string } {
    return { stepSeq: task.stepSeq, attempt: task.attempt, workerId: this.options.workerId };
  }

  /**
   * Sends a result until it is sent. A task whose result is not reported stays uncommitted,
   * and without a rebalance it is never delivered again: giving up while this worker runs
   * would leave the run waiting for a result forever. Only the end of the shutdown grace
   * gives up (resolving false); the task is then delivered again once this worker is gone.
   */
  private async report(task: StepTask, body: CommandBody, log: Logger): Promise<boolean> {
    const { shutdown } = this;
    for (let failures = 0; ;) {
      try {
        await this.faults.at("worker.report");
        await this.command(task, body);
        if (failures > 0) log.info({ report: body.type, failures }, "step reported after all");
        return true;
      } catch (err) {
        failures += 1;
        const level = failures === 1 || failures % REPORT_WARN_EVERY === 0 ? "warn" : "debug";
        log[level]({ err, report: body.type, failures }, "could not report the step; trying again");
        if (shutdown.aborted) break;
        await shutdown.sleep(backoffMs(this.reportBackoff, failures));
        if (shutdown.aborted) break;
      }
    }
    log.error(
      { report: body.type },
      "the worker shut down before the step could be reported; the task will be delivered again",
    );
    return false;
  }

  /** One try; resolves false when it failed. */
  private async sendOnce(task: StepTask, body: CommandBody, log: Logger): Promise<boolean> {
    try {
      await this.command(task, body);
      return true;
    } catch (err) {
      log.warn({ err, report: body.type }, "could not send a step report");
      return false;
    }
  }

  private command(task: StepTask, body: CommandBody): Promise<void> {
    return this.options.commands.send({
      workflowId: task.workflowId,
      sentAt: this.clock.now(),
      body,
    });
  }
}

/** Drops the oldest entries (insertion order) of a map or set until at most `max` remain. */
function keepNewest(
  entries: {
    readonly size: number;
    keys(): IterableIterator<string>;
    delete(key: string): boolean;
  },
  max: number,
): void {
  for (const oldest of entries.keys()) {
    if (entries.size <= max) break;
    entries.delete(oldest);
  }
}

/** The details an earlier attempt heartbeated, as the step reads them; undefined for none. */
function parseDetails(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A failure that must not be retried. */
function terminal(err: unknown): ErrorInfo {
  return { ...errorInfo(err), terminal: true };
}

/** A result that carries its attempt's start (no started report went before it). */
function withStart(body: CommandBody, startedAt: number): CommandBody {
  return body.type === "ReportStepCompleted" || body.type === "ReportStepFailed"
    ? { ...body, startedAt }
    : body;
}
