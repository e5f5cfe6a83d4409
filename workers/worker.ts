import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KafkaPort, PortConsumedMessage, PortProducer } from "../transport/port";
import type { Registry as MetricsRegistry } from "prom-client";
import { backoffMs, DEPENDENCY_BACKOFF } from "../core/backoff";
import { ABORT_GRACE_MS, DEFAULT_SHUTDOWN_GRACE_MS } from "./drain";
import type { Clock } from "../core/clock";
import type { FaultSeam } from "../core/fault-points";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { SignalFanOut } from "../core/signal-fan-out";
import { RoleStoppedError } from "../core/errors";
import { abortable, untilAvailable, type WaitOptions } from "../core/until-available";
import { DEFAULT_TASK_QUEUE } from "../deciders/registry";
import { CommandProducer } from "../producers/command-producer";
import { deadLetterMessage } from "../producers/dead-letter";
import type { Command, StepCancel, StepTask } from "../schemas/types";
import { ensureTopics, withAdmin } from "../transport/topics";
import type { AnyStepDefinition, StepDefinition } from "../workflow/definitions";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics";
import { SlotPool } from "./slot-pool";
import type { StepLeaseStore } from "./lease-store";
import { StepLeases } from "./step-lease";
import { StepLogSender } from "./step-log-sender";
import { StepRunner, type CommandSender } from "./step-runner";
import { TaskConsumer, type TaskDelivery } from "./task-consumer";

export interface WorkerOptions {
  config: WeftConfig;
  steps: readonly AnyStepDefinition[];
  logger: Logger;
  /** Task queues to consume; default: the queues of `steps`. */
  queues?: readonly string[];
  /** Steps run at once by this worker, over all its queues. Default 32. */
  concurrency?: number;
  /** Lease of a running attempt, extended while it runs. Default 10000 ms. */
  leaseMs?: number;
  /** Default: `<host>-<pid>-<random>`. */
  workerId?: string;
  /**
   * Where leases and done-markers live, from the backends (Redis on servers, memory in
   * embedded mode): opened at start, left open on stop.
   */
  leases: StepLeaseStore;
  /** The transport, from the backends. */
  kafka: KafkaPort;
  /** On stop, how long running steps may finish before their signal aborts. Default 15000 ms. */
  shutdownGraceMs?: number;
  /** Where the worker's metrics go (e.g. the process's registry); default a registry of its own. */
  metricsRegistry?: MetricsRegistry;
  /** Stamps the reports' times; default the system clock. */
  clock?: Clock;
  /**
   * The process's readiness: while the worker waits for Redis or Kafka (at start, or after a
   * crash of a task consumer) /readyz says so. Default: a readiness of its own.
   */
  readiness?: Readiness;
  /** Named fault points a test arms (`worker.report`); default none. */
  faults?: FaultSeam;
  /**
   * The decider in this process, if any: step reports go to it first when it owns the run's
   * partition (decided in its next transaction, no round trip through `weft.commands`), and
   * through Kafka otherwise. Tasks it offers (`offer`) run here at once.
   */
  localDecider?: LocalDecider;
}

/** What a worker needs of a decider in its process. */
export interface LocalDecider {
  /** True once a transaction holding `command` committed; false: send it through Kafka. */
  submit(command: Command): Promise<boolean>;
}

/** What a worker needs of the decider in its process that offers it its tasks (`offer`). */
export interface OfferingDecider {
  /** True while it writes, and offers here as it commits, every task of the partition. */
  offersEveryTaskOf(queue: string, partition: number): boolean;
  /** The partitions of `queue`'s task topic that its own partitions write tasks to. */
  tasksWrittenTo(queue: string): readonly number[];
  /** Resolves once its group first dealt it partitions (or it stopped first). */
  firstAssignment(): Promise<void>;
}

const DEFAULT_CONCURRENCY = 32;
const DEFAULT_LEASE_MS = 10_000;
/** On stop, how long the step logs still in flight may take to be sent. */
const STEP_LOG_FLUSH_MS = 2000;
/** After the first failure of a task run or a DLQ send, one warning per this many. */
const WARN_EVERY = 10;

/**
 * Runs steps: consumes task queues, runs each attempt under a lease (Redis, or memory in embedded mode), reports started,
 * completed and failed to the deciders, and commits a task's offset only once it is reported.
 */
export class Worker {
  readonly queues: readonly string[];
  readonly metrics: WorkerMetrics;
  private readonly workerId: string;
  private readonly config: WeftConfig;
  private readonly log: Logger;
  private readonly steps: ReadonlyMap<string, StepDefinition>;
  private readonly pool: SlotPool;
  private readonly leaseMs: number;
  private readonly shutdownGraceMs: number;
  private readonly stopping = new AbortController();
  private readonly shutdown = new AbortController();
  /** Tasks in flight back off on `stopping` through this: one listener, not one per task. */
  private readonly taskWaits = new SignalFanOut(this.stopping.signal);
  private readonly readiness: Readiness;
  private commands: CommandProducer | undefined;
  private dlqProducer: PortProducer | undefined;
  private logProducer: PortProducer | undefined;
  private stepLogs: StepLogSender | undefined;
  private consumers: TaskConsumer[] = [];
  private runner: StepRunner | undefined;
  private offering: OfferingDecider | undefined;
  private starting: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.config = options.config;
    this.workerId =
      options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.log = options.logger.child({ component: "worker", workerId: this.workerId });
    const steps = new Map<string, StepDefinition>();
    for (const step of options.steps) {
      if (steps.has(step.name)) throw new TypeError(`step ${step.name} is defined twice`);
      steps.set(step.name, step);
    }
    this.steps = steps;
    this.queues = [
      ...new Set(
        options.queues ?? options.steps.map((s) => s.options.taskQueue ?? DEFAULT_TASK_QUEUE),
      ),
    ];
    if (this.queues.length === 0)
      throw new TypeError("a worker needs at least one step or task queue");
    this.pool = new SlotPool(options.concurrency ?? DEFAULT_CONCURRENCY);
    this.metrics = createWorkerMetrics(options.metricsRegistry);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.readiness = options.readiness ?? new Readiness();
  }

  get id(): string {
    return this.workerId;
  }

  /** Tasks (and dead letters) being handled right now. */
  get inFlight(): number {
    return this.pool.inFlight;
  }

  /** Steps this worker runs at once at most. */
  get concurrency(): number {
    return this.pool.size;
  }

  /**
   * Connects, ensures the task topics exist, and starts consuming. While Redis or Kafka is
   * unreachable it waits, retrying with backoff (and /readyz says so); it rejects only on a
   * configuration error, or with RoleStoppedError when stopped meanwhile.
   */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("a stopped worker cannot start again"));
    this.starting ??= this.startNow().catch(async (err: unknown) => {
      if (!this.stopping.signal.aborted) this.log.error({ err }, "worker failed to start");
      await this.close();
      throw err;
    });
    return this.starting;
  }

  /**
   * Drains: stops fetching, lets running steps finish and report (aborting their signal after
   * the shutdown grace), commits what finished, disconnects. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopped ??= this.stopNow();
    return this.stopped;
  }

  private async startNow(): Promise<void> {
    const wait: WaitOptions = {
      role: "worker",
      log: this.log,
      readiness: this.readiness,
      signal: this.stopping.signal,
    };
    const store = this.options.leases;
    await store.open?.(wait);
    const leases = new StepLeases(store, this.leaseMs, this.workerId);

    const kafka = this.options.kafka;
    await untilAvailable(wait, "kafka", "create the task topics", () =>
      withAdmin(kafka, (admin) => ensureTopics(admin, this.config, this.queues)),
    );

    const commands = new CommandProducer(kafka, this.config);
    this.commands = commands;
    await untilAvailable(wait, "kafka", "connect the command producer", () => commands.connect());
    const dlq = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.dlqProducer = dlq;
    await untilAvailable(wait, "kafka", "connect the DLQ producer", () => dlq.connect());
    // Its own producer, not idempotent and with few retries: a log record is worth a try, not
    // a queue behind the DLQ's sends (a duplicate only writes the attempt's row again).
    const logProducer = kafka.producer({
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 },
    });
    this.logProducer = logProducer;
    await untilAvailable(wait, "kafka", "connect the step-log producer", () =>
      logProducer.connect(),
    );
    this.stepLogs = new StepLogSender(logProducer, topics.stepLogs(this.config));

    const local = this.options.localDecider;
    const runner = new StepRunner({
      workerId: this.workerId,
      steps: this.steps,
      leases,
      commands: local ? localFirst(local, commands) : commands,
      faults: this.options.faults,
      stopping: this.stopping.signal,
      shutdown: this.shutdown.signal,
      metrics: this.metrics,
      clock: this.options.clock,
      stepLogs: this.stepLogs,
    });
    // Offers run from here on, each once its queue's consumer holds the task's partition: a
    // consumer already reading quietly must not have its decider's offers dropped while the
    // next queue's consumer joins its group.
    this.runner = runner;
    const offering = this.offering;
    // Beside an offering decider, the task groups are joined once it holds its partitions:
    // each consumer then asks for the task partitions those write to (besideDecider).
    if (offering)
      await abortable(
        offering.firstAssignment(),
        this.stopping.signal,
        () => new RoleStoppedError("worker", "join its task groups beside its decider"),
      );
    for (const queue of this.queues) {
      const consumer = new TaskConsumer({
        kafka,
        config: this.config,
        queue,
        pool: this.pool,
        log: this.log,
        stopping: this.stopping.signal,
        readiness: this.readiness,
        runTask: (task: StepTask, log: Logger, delivery) =>
          this.runUntilSettled(runner, task, log, delivery),
        cancelTask: (cancel, log) => runner.cancel(cancel, log),
        runningHere: (key) => runner.runningStep(key),
        covered: offering && ((partition) => offering.offersEveryTaskOf(queue, partition)),
        claims: offering && (() => offering.tasksWrittenTo(queue)),
        onQuiet: (count) => this.metrics.quietPartitions.set({ queue }, count),
        deadLetter: (source, reason) =>
          this.deadLetter(source, reason, topics.workerGroup(this.config, queue)),
      });
      this.consumers.push(consumer);
      await consumer.start();
    }
    this.log.info(
      {
        queues: this.queues,
        steps: [...this.steps.keys()],
        concurrency: this.pool.size,
        leaseMs: this.leaseMs,
      },
      "worker started",
    );
  }

  /**
   * The decider in this process hands each task it commits to `offer`. The worker then asks
   * its groups for the task partitions that decider writes to, so that with several processes
   * each runs its own decider's tasks at once rather than another's through Kafka; and while
   * the decider writes every task of a partition held here, that partition's records are read
   * in a catch-up every so often rather than fetched as they come (quiet-fetch.ts). Set
   * together with the offers, before the worker starts.
   */
  besideDecider(decider: OfferingDecider): void {
    this.offering = decider;
  }

  /**
   * Tasks the decider in this process just committed: each one this worker can run now (its
   * queue's consumer here holds the task's partition, and a slot is free) starts at once,
   * rather than after the task topic's round trip. Its record, fetched later by the same
   * consumer, then finds the attempt running or reported here. Anything else is left to the
   * task topic, as without this path: nothing is lost by passing.
   */
  offer(work: {
    tasks: readonly { queue: string; partition: number; task: StepTask }[];
    cancels: readonly StepCancel[];
  }): void {
    const runner = this.runner;
    if (!runner) return;
    // Cancels first: an attempt running here is aborted now, not after the notice's round
    // trip through the task topic (its cleanup steps, in the same commit, would run first).
    for (const cancel of work.cancels) {
      runner.cancel(
        cancel,
        this.log.child({
          workflowId: cancel.workflowId,
          stepSeq: cancel.stepSeq,
          attempt: cancel.attempt,
        }),
      );
    }
    if (this.stopping.signal.aborted) return;
    const scheduledAt = Date.now();
    const { tasks } = work;
    for (const { queue, partition, task } of tasks) {
      const consumer = this.consumers.find((c) => c.queue === queue);
      if (!consumer?.holds(partition)) continue;
      // Not taken here now: its record is, as soon as the partition is fetched.
      if (this.pool.full) {
        consumer.wake(partition);
        continue;
      }
      const log = this.log.child({
        queue,
        workflowId: task.workflowId,
        stepSeq: task.stepSeq,
        attempt: task.attempt,
      });
      this.metrics.localTasks.inc({ queue });
      this.pool.run(async () => {
        // One try: if nothing is reported, the task's record is delivered here as any other.
        const outcome = await runner.run(task, log, { queue, scheduledAt, position: undefined });
        if (outcome === "abandoned") consumer.wake(partition);
      });
    }
  }

  /**
   * Runs a task until it ran or was proven done (true: its offset may be committed). A run
   * that ends with nothing reported while the worker goes on (an unexpected error) is run
   * again here after a backoff: an uncommitted task is delivered again only after a
   * rebalance, which may never come. Once the worker stops, false: the task stays
   * uncommitted and is delivered again when this worker has left the group.
   */
  private async runUntilSettled(
    runner: StepRunner,
    task: StepTask,
    log: Logger,
    delivery: TaskDelivery,
  ): Promise<boolean> {
    for (let failures = 1; ; failures++) {
      if ((await runner.run(task, log, delivery)) !== "abandoned") return true;
      if (this.stopping.signal.aborted) return false;
      const delay = backoffMs(DEPENDENCY_BACKOFF, failures);
      const level = failures === 1 || failures % WARN_EVERY === 0 ? "warn" : "debug";
      log[level]({ failures, retryInMs: delay }, "the task did not settle; running it again");
      await this.taskWaits.sleep(delay);
      if (this.stopping.signal.aborted) return false;
    }
  }

  private async stopNow(): Promise<void> {
    this.log.info({ inFlight: this.pool.inFlight }, "worker stopping");
    // First: a start still waiting for Redis or Kafka ends here.
    this.stopping.abort();
    if (this.starting) await this.starting.catch(() => undefined);
    this.pool.close();
    for (const consumer of this.consumers) consumer.pause();
    if (!(await this.pool.drain(this.shutdownGraceMs))) {
      this.log.warn(
        { inFlight: this.pool.inFlight },
        "steps still running after the shutdown grace; aborting them",
      );
      this.shutdown.abort();
      if (!(await this.pool.drain(ABORT_GRACE_MS))) {
        this.log.warn(
          { inFlight: this.pool.inFlight },
          "steps ignore their abort signal; leaving their tasks uncommitted to be delivered again",
        );
      }
    }
    await this.close();
    this.log.info("worker stopped");
  }

  /** Commits and disconnects whatever was set up, once. Never rejects. */
  private close(): Promise<void> {
    this.closed ??= this.closeNow();
    return this.closed;
  }

  private async closeNow(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    const quietly = async (what: string, action: () => Promise<unknown>): Promise<void> => {
      try {
        await action();
      } catch (err) {
        this.log.warn({ err }, `could not close the ${what}`);
      }
    };
    const { commands, dlqProducer, logProducer } = this;
    if (commands) await quietly("command producer", () => commands.close());
    if (dlqProducer) await quietly("DLQ producer", () => dlqProducer.disconnect());
    await this.stepLogs?.flush(STEP_LOG_FLUSH_MS);
    if (logProducer) await quietly("step-log producer", () => logProducer.disconnect());
  }

  private async deadLetter(
    source: { topic: string; partition: number; message: PortConsumedMessage },
    reason: string,
    consumer: string,
  ): Promise<boolean> {
    const message = deadLetterMessage(source, reason, `${consumer}/${this.workerId}`);
    const log = this.log.child({
      topic: source.topic,
      partition: source.partition,
      offset: source.message.offset,
    });
    const producer = this.dlqProducer;
    if (!producer) return false;
    // Until it is there: an unfinished record holds back the partition's commits, and is
    // delivered again only after a rebalance. Only a stopping worker gives up.
    for (let failures = 0; ;) {
      try {
        await producer.send({ topic: topics.dlq(this.config), messages: [message] });
        this.metrics.deadLetters.inc();
        log.info({ reason }, "undecodable task sent to the DLQ");
        return true;
      } catch (err) {
        failures += 1;
        const level = failures === 1 || failures % WARN_EVERY === 0 ? "error" : "debug";
        log[level](
          { err, failures },
          "could not send an undecodable task to the DLQ; trying again",
        );
        if (this.stopping.signal.aborted) return false;
        await this.taskWaits.sleep(backoffMs(DEPENDENCY_BACKOFF, failures));
        if (this.stopping.signal.aborted) return false;
      }
    }
  }
}

/** Sends a command to the decider in this process when it takes it, else through Kafka. */
function localFirst(local: LocalDecider, kafka: CommandSender): CommandSender {
  return {
    async send(command) {
      if (await local.submit(command)) return;
      await kafka.send(command);
    },
  };
}
