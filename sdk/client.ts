import type { KafkaPort } from "../transport/port";
import { resolveConfig, topics, type ConfigInput, type WeftConfig } from "../core/config";
import {
  WaitTimeoutError,
  WorkflowBlockedError,
  WorkflowCancelledError,
  WorkflowFailedError,
} from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import { endStatus } from "../core/run-lifecycle";
import { AppliedWaits } from "../producers/applied-waits";
import { CommandProducer } from "../producers/command-producer";
import { historyRunView, sendToRun, type RunCommand, type RunView } from "../producers/run-check";
import { startWorkflowCommand } from "../producers/workflow-commands";
import type { HistoryEvent, IdReusePolicy } from "../schemas/types";
import { HistoryTail } from "../transport/history-tail";
import { createKafka } from "../adapters/kafka/client";
import { ensureTopics, withAdmin } from "../transport/topics";
import type { WorkflowDefinition } from "../workflow/definitions";
import { RunRequests, type AcceptedRequest } from "./run-requests";
import { ScheduleClient } from "./schedules";

export interface StartOptions<I> {
  /** Names the run; a second start with the same ID returns the same run (see idReusePolicy). */
  workflowId?: string;
  input?: I;
  /** Without a workflowId, the ID is derived from this key: the same key, the same run. */
  idempotencyKey?: string;
  /**
   * Whether the start makes a new run when its workflow ID names a closed run: never
   * (`rejectDuplicate`, the default), always (`allowAfterClose`) or only after a failure or a
   * cancel (`allowAfterFailure`). A start whose ID names an open run is that run's duplicate.
   */
  idReusePolicy?: IdReusePolicy;
  /**
   * The run fails with WORKFLOW_TIMEOUT (`WorkflowFailedError`, `details.errorCode`) if still
   * open this long after its start, over the workflow's own `executionTimeoutMs`.
   */
  executionTimeoutMs?: number;
}

/** Starts a client remembers as its own (see WeftClient's startedHere), at most. */
const STARTS_REMEMBERED = 10_000;

/** A start accepted durably. */
export interface StartedRun {
  workflowId: string;
  /**
   * The start's request ID: `result(workflowId, { startRequestId })` waits for the run this
   * start made (or, when it was a duplicate, the run it joined), not an earlier run's.
   */
  requestId: string;
}

export interface ResultOptions {
  /** Default 60,000 ms. */
  timeoutMs?: number;
  /** Wait for the run made (or joined) by the start with this request ID (see StartedRun). */
  startRequestId?: string;
}

export {
  signalWithStartOf,
  type AcceptedRequest,
  type RequestOptions,
  type SignalWithStartOptions,
  type SignalWithStartResult,
} from "./run-requests";

export interface ClientOptions {
  config?: WeftConfig | ConfigInput;
  logger?: Logger;
  /** The transport to use (e.g. an embedded Weft's log); default Kafka from the config. */
  transport?: KafkaPort;
  /**
   * How long `signal` and `cancel` wait for the deciders to apply a run's start that history
   * does not show yet; past it the command is sent unconfirmed. Default 5000 ms.
   */
  runCheckWaitMs?: number;
}

/** Starts, signals and cancels runs, and waits for their results. */
export class WeftClient extends RunRequests {
  protected readonly commands: CommandProducer;
  private readonly history: HistoryTail;
  /** What `signal` and `cancel` check runs against: history, as the deciders committed it. */
  private readonly runs: RunView;
  /** Waits for the deciders to apply this client's starts, sharing their reads. */
  private readonly applied: AppliedWaits;
  private readonly log: Logger;
  /**
   * Runs this client started, the latest STARTS_REMEMBERED of them: `result` waits for the
   * deciders to apply such a start and finds the run in the tail from its first event, where
   * asking at once (before it is decided) would read the run's partition of history whole.
   */
  private readonly startedHere = new Set<string>();
  /** Makes, pauses, resumes, updates, deletes and describes schedules (docs/schedules.md). */
  readonly schedules: ScheduleClient = new ScheduleClient(this);

  private constructor(
    readonly config: WeftConfig,
    private readonly kafka: KafkaPort,
    logger: Logger,
    private readonly runCheckWaitMs: number | undefined,
  ) {
    super();
    this.log = logger.child({ component: "client" });
    this.commands = new CommandProducer(kafka, config);
    // From now: what connecting costs does not grow with the runs history holds; a run begun
    // before is read from its own partition when asked for.
    this.history = new HistoryTail(kafka, topics.history(config), this.log, { from: "now" });
    this.runs = historyRunView({
      events: async (workflowId, fresh) => {
        if (fresh) await this.history.catchUp();
        return this.history.eventsOf(workflowId);
      },
      commands: this.commands,
      deciderGroup: topics.deciderGroup(config),
      history: this.history,
    });
    this.applied = new AppliedWaits(this.runs, this.commands);
  }

  static async connect(options: ClientOptions = {}): Promise<WeftClient> {
    const config = resolveConfig(options.config);
    const logger = options.logger ?? createLogger(config.logLevel);
    const kafka = options.transport ?? createKafka(config, logger);
    await withAdmin(kafka, (admin) => ensureTopics(admin, config));
    const client = new WeftClient(config, kafka, logger, options.runCheckWaitMs);
    await client.commands.connect();
    await client.history.beginAtEnds();
    return client;
  }

  /** Accepts the start durably (the command is in Kafka) and returns the run's ID. */
  async start<I>(
    workflow: string | WorkflowDefinition<I>,
    options: StartOptions<I> = {},
  ): Promise<StartedRun> {
    const workflowType = typeof workflow === "string" ? workflow : workflow.name;
    const command = startWorkflowCommand(workflowType, options);
    await this.commands.send(command);
    this.startedHere.delete(command.workflowId);
    this.startedHere.add(command.workflowId);
    if (this.startedHere.size > STARTS_REMEMBERED)
      this.startedHere.delete(this.startedHere.values().next().value!);
    return { workflowId: command.workflowId, requestId: command.body.requestId };
  }

  /**
   * The run's state as its workflow code last set it (`ctx.setState`), from its committed
   * history: of the workflow ID's latest run, undefined when it set none (or there is no run).
   */
  async getState<T = unknown>(workflowId: string): Promise<T | undefined> {
    return stateOf<T>(await this.getHistory(workflowId));
  }

  /** The run is looked up in `weft.history`, which the client then follows as `result` does. */
  protected async toRun(command: RunCommand): Promise<AcceptedRequest> {
    const check = await sendToRun(this.runs, this.commands, command, {
      waitMs: this.runCheckWaitMs,
      applied: this.applied,
    });
    if (check.kind === "unconfirmed") {
      this.log.info(
        { workflowId: command.workflowId, command: command.body.type },
        "the deciders are behind the run's commands partition: sent without confirming the run exists",
      );
    }
    return { workflowId: command.workflowId, requestId: command.body.requestId };
  }

  protected historyOf(workflowId: string): Promise<readonly HistoryEvent[]> {
    return this.getHistory(workflowId);
  }

  /**
   * Waits for the run to close and returns its result; rejects with WorkflowFailedError,
   * WorkflowCancelledError, WorkflowBlockedError or WaitTimeoutError.
   */
  async result<T = unknown>(workflowId: string, options: ResultOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    await this.history.start();
    // The run to wait for starts at this seq: runs of the ID before it closed (or continued).
    const fromSeq =
      options.startRequestId === undefined
        ? await this.latestRunStart(workflowId, deadline)
        : await this.runOfStart(workflowId, options.startRequestId, deadline);
    return new Promise<T>((resolve, reject) => {
      let unsubscribe: () => void = () => undefined;
      // One deadline for the whole call: finding the run may have used some of it (all of it,
      // when no decider took the start), and the wait for its end gets only what is left.
      const timer = setTimeout(
        () => {
          unsubscribe();
          reject(new WaitTimeoutError(`result of ${workflowId}`, timeoutMs));
        },
        Math.max(0, deadline - Date.now()),
      );
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        queueMicrotask(() => unsubscribe());
        fn();
      };
      unsubscribe = this.history.subscribe(workflowId, (event) => {
        if (event.seq < fromSeq || !closesRun(event)) return;
        // A run that did not complete rejects with the error runResult throws.
        settle(() => resolve(new Promise<T>((ok) => ok(runResult<T>(workflowId, event)))));
      });
    });
  }

  /** The seq of the last WorkflowStarted of the ID that history holds now (0: none yet). */
  private async latestRunStart(workflowId: string, deadline: number): Promise<number> {
    // A start of this client's is in history once applied; the deciders behind, it is looked
    // up as any run is.
    if (this.startedHere.has(workflowId)) await this.applied.until(workflowId, deadline);
    await this.history.catchUp();
    return lastStart(await this.history.eventsOf(workflowId));
  }

  /**
   * Where the run a start made begins: its WorkflowStarted, found by the start's request ID
   * once the deciders have applied every command acknowledged before this call (the start
   * among them). Without one the start was a duplicate: the last run of the ID is the one.
   */
  private async runOfStart(
    workflowId: string,
    requestId: string,
    deadline: number,
  ): Promise<number> {
    const applied = await this.applied.until(workflowId, deadline);
    if (!applied.caughtUp) throw new WaitTimeoutError(`the start of ${workflowId}`, 0);
    await this.history.catchUp();
    const events = await this.history.eventsOf(workflowId);
    const mine = events.find(
      (e) => e.body.type === "WorkflowStarted" && e.body.requestId === requestId,
    );
    return mine?.seq ?? lastStart(events);
  }

  /** The run's history as committed so far. */
  async getHistory(workflowId: string): Promise<HistoryEvent[]> {
    await this.history.catchUp();
    return [...(await this.history.eventsOf(workflowId))];
  }

  async close(): Promise<void> {
    await this.history.close();
    await this.commands.close();
  }
}

/**
 * The state of the latest run in a workflow ID's history: its last StateUpdated after the last
 * WorkflowStarted, parsed; undefined when that run set none.
 */
export function stateOf<T>(events: readonly HistoryEvent[]): T | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const body = events[i]!.body;
    if (body.type === "StateUpdated") return JSON.parse(body.state) as T;
    if (body.type === "WorkflowStarted") return undefined;
  }
  return undefined;
}

function lastStart(events: readonly HistoryEvent[]): number {
  for (let i = events.length - 1; i >= 0; i--)
    if (events[i]!.body.type === "WorkflowStarted") return events[i]!.seq;
  return 0;
}

/**
 * Whether the event settles what a caller waits for: its run ended for good (completed,
 * failed, cancelled) or is blocked. A run continued as new is not settled: its next run is.
 */
export function closesRun(event: HistoryEvent): boolean {
  const end = endStatus(event.body.type);
  return (end !== undefined && end !== "continued") || event.body.type === "WorkflowBlocked";
}

/**
 * The result a run's closing event carries; throws WorkflowFailedError, WorkflowCancelledError
 * or WorkflowBlockedError for a run that did not complete.
 */
export function runResult<T>(workflowId: string, event: HistoryEvent): T {
  const body = event.body;
  switch (body.type) {
    case "WorkflowCompleted":
      return JSON.parse(body.result) as T;
    case "WorkflowFailed":
      throw new WorkflowFailedError(workflowId, body.error.message, {
        errorName: body.error.name,
        errorCode: body.error.code,
      });
    case "WorkflowCancelled":
      throw new WorkflowCancelledError(workflowId, body.reason);
    case "WorkflowBlocked":
      throw new WorkflowBlockedError(workflowId, body.code, body.reason);
    default:
      throw new Error(`${workflowId} has not closed`);
  }
}
