import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { Redis } from "ioredis";
import type { KafkaPort, PortConsumedMessage, PortProducer } from "../transport/port";
import type { Registry as MetricsRegistry } from "prom-client";
import type { Clock } from "../core/clock";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { DEFAULT_TASK_QUEUE } from "../deciders/registry";
import { CommandProducer } from "../producers/command-producer";
import { deadLetterMessage } from "../producers/dead-letter";
import type { StepTask } from "../schemas/types";
import { createKafka, ensureTopics, withAdmin } from "../transport/kafka";
import type { AnyStepDefinition, StepDefinition } from "../workflow/definitions";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics";
import { SlotPool } from "./slot-pool";
import { sleep } from "./sleep";
import type { StepLeaseStore } from "./lease-store";
import { RedisStepLeaseStore } from "./redis-lease-store";
import { StepLeases } from "./step-lease";
import { StepRunner } from "./step-runner";
import { TaskConsumer } from "./task-consumer";

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
   * Where leases and done-markers live (left open on stop), e.g. an `InProcessStepLeaseStore`
   * in embedded mode. Default: Redis, through `redis`.
   */
  leases?: StepLeaseStore;
  /**
   * Without `leases`: a Redis client (left open on stop) or URL (default `config.redisUrl`;
   * closed on stop).
   */
  redis?: Redis | string;
  /** A Kafka client to share; default one made from `config`. */
  kafka?: KafkaPort;
  /** On stop, how long running steps may finish before their signal aborts. Default 15000 ms. */
  shutdownGraceMs?: number;
  /** Where the worker's metrics go (e.g. the process's registry); default a registry of its own. */
  metricsRegistry?: MetricsRegistry;
  /** Stamps the reports' times; default the system clock. */
  clock?: Clock;
}

const DEFAULT_CONCURRENCY = 32;
const DEFAULT_LEASE_MS = 10_000;
const DEFAULT_SHUTDOWN_GRACE_MS = 15_000;
/** After the abort, how long stop still waits for steps that ignore their signal. */
const ABORT_GRACE_MS = 5000;
/**
 * The longest a worker's stop waits for running steps at the default grace: a process manager
 * that kills on a timeout must give a stopping process more than this.
 */
export const WORKER_DRAIN_MS = DEFAULT_SHUTDOWN_GRACE_MS + ABORT_GRACE_MS;
const DLQ_SEND_ATTEMPTS = 5;

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
  private readonly ownsRedis: boolean;
  private readonly redisOption: Redis | string;
  private redis: Redis | undefined;
  private commands: CommandProducer | undefined;
  private dlqProducer: PortProducer | undefined;
  private consumers: TaskConsumer[] = [];
  private starting: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {
    // Every in-flight task listens on these two signals: many listeners are expected.
    setMaxListeners(0, this.stopping.signal, this.shutdown.signal);
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
    this.ownsRedis = !options.leases && typeof options.redis !== "object";
    this.redisOption = options.redis ?? this.config.redisUrl;
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

  /** Connects, ensures the task topics exist, and starts consuming. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error("a stopped worker cannot start again"));
    this.starting ??= this.startNow().catch(async (err: unknown) => {
      this.log.error({ err }, "worker failed to start");
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
    let store = this.options.leases;
    if (!store) {
      this.redis = await this.connectRedis();
      store = new RedisStepLeaseStore(this.redis, this.config, this.log);
    }
    const leases = new StepLeases(store, this.leaseMs, this.workerId);

    const kafka = this.options.kafka ?? createKafka(this.config, this.options.logger);
    await withAdmin(kafka, (admin) => ensureTopics(admin, this.config, this.queues));

    const commands = new CommandProducer(kafka, this.config);
    this.commands = commands;
    await commands.connect();
    const dlq = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    this.dlqProducer = dlq;
    await dlq.connect();

    const runner = new StepRunner({
      workerId: this.workerId,
      steps: this.steps,
      leases,
      commands,
      stopping: this.stopping.signal,
      shutdown: this.shutdown.signal,
      metrics: this.metrics,
      clock: this.options.clock,
    });
    for (const queue of this.queues) {
      const consumer = new TaskConsumer({
        kafka,
        config: this.config,
        queue,
        pool: this.pool,
        log: this.log,
        stopping: this.stopping.signal,
        runTask: async (task: StepTask, log: Logger, delivery) =>
          (await runner.run(task, log, delivery)) !== "abandoned",
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

  private async stopNow(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    this.log.info({ inFlight: this.pool.inFlight }, "worker stopping");
    this.stopping.abort();
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

  /** Commits and disconnects whatever was set up. Never rejects. */
  private async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    const quietly = async (what: string, action: () => Promise<unknown>): Promise<void> => {
      try {
        await action();
      } catch (err) {
        this.log.warn({ err }, `could not close the ${what}`);
      }
    };
    const { commands, dlqProducer, redis } = this;
    if (commands) await quietly("command producer", () => commands.close());
    if (dlqProducer) await quietly("DLQ producer", () => dlqProducer.disconnect());
    if (redis && this.ownsRedis) await quietly("Redis client", () => redis.quit());
  }

  /** The Redis client of the default lease store. */
  private async connectRedis(): Promise<Redis> {
    if (typeof this.redisOption !== "string") return this.redisOption;
    const redis = new Redis(this.redisOption, { lazyConnect: true });
    redis.on("error", (err: unknown) => this.log.warn({ err }, "Redis connection error"));
    await redis.connect();
    return redis;
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
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({ topic: topics.dlq(this.config), messages: [message] });
        this.metrics.deadLetters.inc();
        log.info({ reason }, "undecodable task sent to the DLQ");
        return true;
      } catch (err) {
        log.error({ err, attempt }, "could not send an undecodable task to the DLQ");
        if (attempt >= DLQ_SEND_ATTEMPTS || this.stopping.signal.aborted) return false;
        await sleep(Math.min(250 * 2 ** (attempt - 1), 4000), this.stopping.signal);
      }
    }
  }
}
