import { embeddedDecisionLog } from "../adapters/embedded/decision-log";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, topics, type WeftConfig } from "../core/config";
import { WaitTimeoutError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import { Decider } from "../deciders/decider";
import { DEFAULT_TASK_QUEUE } from "../deciders/registry";
import { CommandProducer } from "../producers/command-producer";
import { historyRunView, sendToRun, type RunCommand, type RunView } from "../producers/run-check";
import { startWorkflowCommand } from "../producers/workflow-commands";
import { deadLetterCodec, historyCodec } from "../schemas/codec";
import type { HistoryEvent, IdReusePolicy, StepLogLevel, StepLogRecord } from "../schemas/types";
import { closesRun, runResult, stateOf } from "../sdk/client";
import { RunRequests, type AcceptedRequest } from "../sdk/run-requests";
import { EmbeddedKafka } from "../adapters/embedded";
import { InProcessStepLeaseStore } from "../adapters/in-process/step-lease-store";
import { SlotPool } from "../workers/slot-pool";
import { StepLeases } from "../workers/step-lease";
import { StepRunner } from "../workers/step-runner";
import { TaskConsumer } from "../workers/task-consumer";
import type {
  AnyStepDefinition,
  AnyWorkflowDefinition,
  StepDefinition,
  StepHandler,
  WorkflowDefinition,
} from "../workflow/definitions";
import { VirtualClock } from "./virtual-clock";
import { runOfHistory } from "../producers/run-check";
import { scheduleSteps } from "../producers/schedule-steps";
import { ScheduleClient } from "../sdk/schedules";
import { scheduleWorkflow } from "../workflow/schedules/schedule-workflow";

/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- a replacement takes any input */
export type StepReplacement = StepHandler<any, unknown>;

export interface TestEnvironmentOptions {
  workflows: readonly AnyWorkflowDefinition[];
  /** Steps the workflows call; their handlers run unless replaced. */
  steps?: readonly AnyStepDefinition[];
  /** Step name → handler run instead of the step's own (its policies still apply). */
  stepOverrides?: Readonly<Record<string, StepReplacement>>;
  /** Virtual time when the environment starts. Default: the real time now. */
  startTime?: number | Date;
  /** How long (real time) `result` waits before giving up. Default 10000 ms. */
  resultTimeoutMs?: number;
  /** Steps run at once. Default 32. */
  concurrency?: number;
  /** Default: a pino logger at `logLevel` (default "warn"). */
  logger?: Logger;
  logLevel?: string;
  /** Hosts schedules (`env.schedules`): the `weft.schedule` workflow and its steps. */
  schedules?: boolean;
}

/** One attempt's `step.log` lines, as `env.logsOf` gives them. */
export interface StepAttemptLogs {
  stepSeq: number;
  attempt: number;
  stepName: string;
  /** In order; past the bound (100 lines, 64 KiB), a last line says how many were dropped. */
  lines: StepLogLineView[];
  /** Lines logged past the bound. */
  dropped: number;
}

export interface StepLogLineView {
  level: StepLogLevel;
  message: string;
  /** The fields given, as JSON would carry them; null when none. */
  fields: Record<string, unknown> | null;
  /** Virtual time. */
  at: number;
}

export interface StartRunOptions {
  workflowId?: string;
  idempotencyKey?: string;
  /** Whether a closed run's workflow ID may start a new run (default rejectDuplicate). */
  idReusePolicy?: IdReusePolicy;
  /** The run's execution timeout (virtual time), over the workflow's `executionTimeoutMs`. */
  executionTimeoutMs?: number;
}

/**
 * A decider and a worker in this process on an embedded log in a temporary directory, with a
 * virtual clock. Time moves only when the environment moves it: `skipTime`, or while a test
 * awaits `result`, when it jumps to the next due timer whenever nothing is in flight (no
 * command undecided, no task unrun, no timer's decision uncommitted). No broker, database or
 * Redis is needed.
 */
export class TestEnvironment extends RunRequests {
  private readonly steps: Map<string, StepDefinition>;
  private readonly ownSteps: ReadonlyMap<string, StepDefinition>;
  private readonly historyRead = new Map<number, number>();
  private readonly histories = new Map<string, HistoryEvent[]>();
  /** Step logs by workflow ID, then `<stepSeq>/<attempt>`: kept in memory, no topic. */
  private readonly stepLogs: Map<string, Map<string, StepLogRecord>>;
  private tasksHandled = 0;
  private shutdown: Promise<void> | undefined;
  /** What `signal` and `cancel` check runs against, as the client does: the history. */
  private readonly runs: RunView;

  private constructor(
    readonly clock: VirtualClock,
    private readonly config: WeftConfig,
    private readonly kafka: EmbeddedKafka,
    private readonly directory: string,
    private readonly decider: Decider,
    protected readonly commands: CommandProducer,
    private readonly taskConsumers: readonly TaskConsumer[],
    private readonly pool: SlotPool,
    private readonly stopping: AbortController,
    steps: Map<string, StepDefinition>,
    private readonly resultTimeoutMs: number,
    stepLogs: Map<string, Map<string, StepLogRecord>>,
  ) {
    super();
    this.stepLogs = stepLogs;
    this.steps = steps;
    this.ownSteps = new Map(steps);
    this.runs = historyRunView({
      events: (workflowId) => {
        this.readHistory();
        return Promise.resolve(this.histories.get(workflowId) ?? []);
      },
      commands,
      deciderGroup: topics.deciderGroup(config),
    });
  }

  static async create(options: TestEnvironmentOptions): Promise<TestEnvironment> {
    const config = loadConfig(
      {
        topicPrefix: "weft",
        commandPartitions: 1,
        taskPartitions: 1,
        deciderLingerMs: 0,
        logLevel: options.logLevel ?? "warn",
      },
      {},
    );
    const logger = options.logger ?? createLogger(config.logLevel, { component: "test-env" });
    const startAt = options.startTime === undefined ? Date.now() : Number(options.startTime);
    if (!Number.isFinite(startAt))
      throw new TypeError(`startTime must be a time, got ${String(options.startTime)}`);
    const clock = new VirtualClock(startAt);

    let env: TestEnvironment | undefined;
    // The schedule's steps reach the environment once it exists: they only run after that.
    const hosted = options.schedules
      ? scheduleSteps({
          send: (command) => env!.commands.send(command),
          isOpen: (workflowId) => Promise.resolve(env!.runOpen(workflowId)),
        })
      : [];
    const workflows = options.schedules
      ? [...options.workflows, scheduleWorkflow]
      : options.workflows;
    const definitions = [...(options.steps ?? []), ...hosted];
    const steps = new Map<string, StepDefinition>();
    for (const step of definitions) steps.set(step.name, step as StepDefinition);
    for (const [name, handler] of Object.entries(options.stepOverrides ?? {}))
      steps.set(name, replaced(steps.get(name), name, handler));
    const queues = new Set([DEFAULT_TASK_QUEUE]);
    for (const w of options.workflows) if (w.options.taskQueue) queues.add(w.options.taskQueue);
    for (const s of definitions) if (s.options.taskQueue) queues.add(s.options.taskQueue);

    const directory = mkdtempSync(join(tmpdir(), "weft-test-env-"));
    const kafka = await EmbeddedKafka.open({ directory, sync: "never", logger });
    const stopping = new AbortController();
    // The worker hands each attempt's record here as the attempt ends, before its report: by
    // the time a test sees the result, the lines are in.
    const stepLogs = new Map<string, Map<string, StepLogRecord>>();
    const keepLogs = {
      deliver(record: StepLogRecord): void {
        const run = stepLogs.get(record.workflowId) ?? new Map<string, StepLogRecord>();
        run.set(`${record.stepSeq}/${record.attempt}`, record);
        stepLogs.set(record.workflowId, run);
      },
    };
    try {
      const decider = new Decider({
        config,
        kafka,
        decisionLog: embeddedDecisionLog(kafka),
        logger,
        workflows,
        steps: definitions,
        clock,
      });
      await decider.start();
      await decider.ready();
      const commands = new CommandProducer(kafka, config);
      await commands.connect();
      const pool = new SlotPool(options.concurrency ?? 32);
      const runner = new StepRunner({
        workerId: "test-worker",
        steps,
        leases: new StepLeases(new InProcessStepLeaseStore(), 10_000, "test-worker"),
        commands,
        stopping: stopping.signal,
        shutdown: stopping.signal,
        clock,
        stepLogs: keepLogs,
      });
      const log = logger.child({ component: "worker" });
      const consumers = [...queues].map(
        (queue) =>
          new TaskConsumer({
            kafka,
            config,
            queue,
            pool,
            log,
            stopping: stopping.signal,
            runTask: async (task, taskLog, delivery) => {
              try {
                return (await runner.run(task, taskLog, delivery)) !== "abandoned";
              } finally {
                if (env) env.tasksHandled++;
              }
            },
            // A cancel notice is a record of the task topic too: handled once it is read.
            cancelTask: (cancel, taskLog) => {
              try {
                runner.cancel(cancel, taskLog);
              } finally {
                if (env) env.tasksHandled++;
              }
            },
            deadLetter: () => {
              if (env) env.tasksHandled++;
              return Promise.resolve(true);
            },
          }),
      );
      env = new TestEnvironment(
        clock,
        config,
        kafka,
        directory,
        decider,
        commands,
        consumers,
        pool,
        stopping,
        steps,
        options.resultTimeoutMs ?? 10_000,
        stepLogs,
      );
      for (const consumer of consumers) await consumer.start();
      return env;
    } catch (err) {
      stopping.abort();
      await kafka.close().catch(() => undefined);
      rmSync(directory, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Makes, pauses, resumes, updates, deletes and describes schedules, as `client.schedules`
   * does (needs `schedules: true`); their ticks follow the virtual clock.
   */
  get schedules(): ScheduleClient {
    return new ScheduleClient({
      start: async (type, options) => ({
        workflowId: await this.start(type, options.input, options),
      }),
      signal: (workflowId, name, payload) => this.signal(workflowId, name, payload),
      getState: (workflowId) => this.stateOf(workflowId),
    });
  }

  /** Whether the run is open as history shows it now; a start not yet applied counts as open. */
  private runOpen(workflowId: string): boolean {
    this.readHistory();
    const run = runOfHistory(this.histories.get(workflowId) ?? []);
    return run === undefined || !run.closed;
  }

  /** The virtual time. */
  now(): number {
    return this.clock.now();
  }

  /** Starts a run and returns its workflow ID once the start is on the log. */
  async start<I>(
    workflow: string | WorkflowDefinition<I>,
    input?: I,
    options: StartRunOptions = {},
  ): Promise<string> {
    const type = typeof workflow === "string" ? workflow : workflow.name;
    const command = startWorkflowCommand(type, { ...options, input });
    await this.commands.send(command);
    return command.workflowId;
  }

  /**
   * The run's state (`ctx.setState`) once nothing is in flight: what the workflow ID's latest
   * run last set, undefined when it set none.
   */
  async stateOf<T = unknown>(workflowId: string): Promise<T | undefined> {
    return stateOf<T>(await this.history(workflowId));
  }

  /** As the client's signal, cancel and terminate, rerun and reset (see RunRequests). */
  protected async toRun(command: RunCommand): Promise<AcceptedRequest> {
    // The decider here always runs: it applies a start in milliseconds of real time.
    await sendToRun(this.runs, this.commands, command, { waitMs: this.resultTimeoutMs });
    return { workflowId: command.workflowId, requestId: command.body.requestId };
  }

  /**
   * Waits for the run to close, skipping virtual time to each next due timer whenever nothing
   * is in flight, and returns its result; rejects with WorkflowFailedError,
   * WorkflowCancelledError or WorkflowBlockedError, or with WaitTimeoutError after `timeoutMs`
   * of real time (a run waiting for a signal with no timer pending never closes by itself).
   */
  async result<T = unknown>(workflowId: string, options: { timeoutMs?: number } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.resultTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const expired = (): WaitTimeoutError =>
      new WaitTimeoutError(
        `result of ${workflowId} (${this.describeWait(workflowId)}, virtual time ${new Date(this.clock.now()).toISOString()})`,
        timeoutMs,
      );
    for (;;) {
      // Settled first: a start just sent may make a new run under a closed run's ID.
      if (!(await this.settled(deadline))) throw expired();
      const closed = this.closeEvent(workflowId);
      if (closed) return runResult<T>(workflowId, closed);
      const next = this.clock.nextDueAt();
      if (next !== undefined) {
        this.clock.advanceTo(next);
        continue;
      }
      // Idle with nothing due: only the test itself (a signal) can move the run on.
      if (Date.now() >= deadline) throw expired();
      await pause(2);
    }
  }

  /** Moves virtual time forward by `ms`, firing every timer due on the way, in order. */
  async skipTime(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`skipTime: ms must be ≥ 0, got ${ms}`);
    const target = this.clock.now() + ms;
    const deadline = Date.now() + this.resultTimeoutMs;
    for (;;) {
      if (!(await this.settled(deadline)))
        throw new WaitTimeoutError("the test environment to settle", this.resultTimeoutMs);
      const next = this.clock.nextDueAt();
      if (next === undefined || next > target) break;
      this.clock.advanceTo(next);
    }
    this.clock.advanceTo(target);
    await this.idle();
  }

  /** Resolves once nothing is in flight. Virtual time does not move. */
  async idle(): Promise<void> {
    if (!(await this.settled(Date.now() + this.resultTimeoutMs)))
      throw new WaitTimeoutError("the test environment to settle", this.resultTimeoutMs);
  }

  protected historyOf(workflowId: string): Promise<readonly HistoryEvent[]> {
    return this.history(workflowId);
  }

  /** The run's history once nothing is in flight: the events, for assertions. */
  async history(workflowId: string): Promise<HistoryEvent[]> {
    await this.idle();
    this.readHistory();
    return [...(this.histories.get(workflowId) ?? [])];
  }

  /**
   * What the run's steps logged (`step.log.*`) once nothing is in flight: one entry per attempt
   * that logged, by step seq then attempt.
   */
  async logsOf(workflowId: string): Promise<StepAttemptLogs[]> {
    await this.idle();
    const records = [...(this.stepLogs.get(workflowId)?.values() ?? [])];
    records.sort((a, b) => a.stepSeq - b.stepSeq || a.attempt - b.attempt);
    return records.map((r) => ({
      stepSeq: r.stepSeq,
      attempt: r.attempt,
      stepName: r.stepName,
      dropped: r.dropped,
      lines: r.lines.map((line) => ({
        level: line.level,
        message: line.message,
        fields: line.fields === null ? null : (JSON.parse(line.fields) as Record<string, unknown>),
        at: line.at,
      })),
    }));
  }

  /** Runs `handler` instead of the step from now on (until `restoreSteps`). */
  replaceStep(name: string, handler: StepReplacement): void {
    this.steps.set(name, replaced(this.ownSteps.get(name), name, handler));
  }

  /** Undoes every `replaceStep`: the steps given at creation run again. */
  restoreSteps(): void {
    this.steps.clear();
    for (const [name, step] of this.ownSteps) this.steps.set(name, step);
  }

  /** Stops the decider and worker and removes the log's directory. Safe to call twice. */
  close(): Promise<void> {
    this.shutdown ??= this.closeNow();
    return this.shutdown;
  }

  private async closeNow(): Promise<void> {
    this.stopping.abort();
    this.pool.close();
    try {
      await this.pool.drain(5000);
      await Promise.all(this.taskConsumers.map((c) => c.stop()));
      await this.commands.close().catch(() => undefined);
      await this.decider.stop();
      await this.kafka.close();
    } finally {
      rmSync(this.directory, { recursive: true, force: true });
    }
  }

  /**
   * True when no command waits for a decision, no task waits to run or runs, and no fired
   * timer's decision is uncommitted.
   */
  private get quiet(): boolean {
    if (this.clock.busy || this.pool.inFlight > 0) return false;
    const log = this.kafka.log;
    const commandsTopic = topics.commands(this.config);
    const group = topics.deciderGroup(this.config);
    for (let p = 0; p < (log.partitionCount(commandsTopic) ?? 0); p++) {
      if ((log.committedOffset(group, commandsTopic, p) ?? 0) < log.highWatermark(commandsTopic, p))
        return false;
    }
    let tasks = 0;
    for (const consumer of this.taskConsumers) {
      for (let p = 0; p < (log.partitionCount(consumer.topic) ?? 0); p++)
        tasks += log.highWatermark(consumer.topic, p);
    }
    return tasks === this.tasksHandled;
  }

  /** Waits until quiet across two turns of the event loop; false when `deadline` passed first. */
  private async settled(deadline: number): Promise<boolean> {
    for (;;) {
      if (this.quiet) {
        await new Promise((r) => setImmediate(r));
        if (this.quiet) return true;
      }
      if (Date.now() >= deadline) return false;
      await pause(1);
    }
  }

  private readHistory(): void {
    const log = this.kafka.log;
    const topic = topics.history(this.config);
    for (let p = 0; p < (log.partitionCount(topic) ?? 0); p++) {
      let offset = this.historyRead.get(p) ?? 0;
      for (;;) {
        const records = log.read(topic, p, offset, 1 << 20);
        if (records.length === 0) break;
        for (const record of records) {
          const event = historyCodec.decode(record.value);
          const events = this.histories.get(event.workflowId) ?? [];
          events.push(event);
          this.histories.set(event.workflowId, events);
        }
        offset += records.length;
      }
      this.historyRead.set(p, offset);
    }
  }

  private closeEvent(workflowId: string): HistoryEvent | undefined {
    this.readHistory();
    const last = this.histories.get(workflowId)?.at(-1);
    return last && closesRun(last) ? last : undefined;
  }

  private describeWait(workflowId: string): string {
    this.readHistory();
    const last = this.histories.get(workflowId)?.at(-1);
    const dead = this.deadLetters(workflowId);
    const refused = dead ? `; a command of the run went to the DLQ: ${dead}` : "";
    if (!last) return `the run was never started${refused}`;
    const pending = this.clock.nextDueAt();
    return `its history ends with ${last.body.type} (event ${last.seq}); ${
      pending === undefined
        ? "no timer is pending"
        : `next timer due ${new Date(pending).toISOString()}`
    }${refused}`;
  }

  /** Why the decider refused the run's last command it refused, if it did. */
  private deadLetters(workflowId: string): string | undefined {
    const log = this.kafka.log;
    const topic = topics.dlq(this.config);
    let reason: string | undefined;
    for (let p = 0; p < (log.partitionCount(topic) ?? 0); p++) {
      for (const record of log.read(topic, p, 0, Number.MAX_SAFE_INTEGER)) {
        if (record.key?.toString() !== workflowId) continue;
        try {
          reason = deadLetterCodec.decode(record.value).reason;
        } catch {
          reason = "(undecodable dead letter)";
        }
      }
    }
    return reason;
  }
}

/** Creates a test environment: a decider and a worker on an embedded log with a virtual clock. */
export function createTestEnvironment(options: TestEnvironmentOptions): Promise<TestEnvironment> {
  return TestEnvironment.create(options);
}

function replaced(
  step: StepDefinition | undefined,
  name: string,
  handler: StepReplacement,
): StepDefinition {
  if (typeof handler !== "function")
    throw new TypeError(`the replacement of step ${name} must be a function`);
  return Object.freeze({
    kind: "step" as const,
    name,
    handler: handler as StepDefinition["handler"],
    options: step?.options ?? {},
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
