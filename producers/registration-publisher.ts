import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { KafkaPort, PortProducer } from "../transport/port";
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { DEFAULT_TASK_QUEUE } from "../deciders/registry";
import { registrationCodec } from "../schemas/codec";
import type { DefinitionInfo, ProcessState, Registration } from "../schemas/types";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";

export interface RegistrationSource {
  /** The worker ID when the process runs a worker, else a client ID of its own. */
  readonly processId: string;
  /** `decider`, `worker`. */
  readonly roles: readonly string[];
  /** Workflows the decider role hosts. */
  readonly workflows: readonly AnyWorkflowDefinition[];
  /** Steps the worker role hosts. */
  readonly steps: readonly AnyStepDefinition[];
  /** Task queues the worker role consumes. */
  readonly queues: readonly string[];
  readonly concurrency: number | null;
  /** Steps running now. */
  inFlight(): number;
}

export interface RegistrationPublisherOptions {
  kafka: KafkaPort;
  config: WeftConfig;
  logger: Logger;
  source: RegistrationSource;
}

/**
 * Publishes what a decider and/or worker process hosts to `<prefix>.registrations`: on start,
 * every `registrationIntervalMs`, and a last "stopped" record on a graceful stop. The projector
 * keeps them as `weft_definitions` and `weft_processes`. A failed publish is logged and tried
 * again at the next beat: registration never stops a process from doing its work.
 */
export class RegistrationPublisher {
  private readonly producer: PortProducer;
  private readonly log: Logger;
  private readonly startedAt = Date.now();
  private readonly workflows: readonly DefinitionInfo[];
  private readonly steps: readonly DefinitionInfo[];
  private connected = false;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RegistrationPublisherOptions) {
    this.log = options.logger.child({ component: "registration" });
    // Few retries: the next beat is the retry, and stop must not hang on a broker that is down.
    this.producer = options.kafka.producer({
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, retries: 2 },
    });
    this.workflows = options.source.workflows.map(workflowInfo);
    this.steps = options.source.steps.map(stepInfo);
  }

  get processId(): string {
    return this.options.source.processId;
  }

  /** Publishes once now, then every interval. Never rejects. */
  async start(): Promise<void> {
    await this.beat();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.beat(), this.options.config.registrationIntervalMs);
    this.timer.unref();
  }

  /** Publishes the "stopped" record and disconnects. Never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.beating) await this.beating;
    await this.publish("stopped");
    try {
      await this.producer.disconnect();
    } catch (err) {
      this.log.warn({ err }, "could not disconnect the registration producer");
    }
  }

  /** One beat; a beat still in flight is not doubled. */
  beat(): Promise<void> {
    this.beating ??= this.publish("up").finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async publish(state: ProcessState): Promise<void> {
    const { source, config } = this.options;
    const record: Registration = {
      processId: source.processId,
      roles: [...source.roles],
      host: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      at: Date.now(),
      intervalMs: config.registrationIntervalMs,
      state,
      workflows: [...this.workflows],
      steps: [...this.steps],
      queues: [...source.queues],
      inFlight: state === "stopped" ? 0 : source.inFlight(),
      concurrency: source.concurrency,
    };
    try {
      if (!this.connected) {
        await this.producer.connect();
        this.connected = true;
      }
      await this.producer.send({
        topic: topics.registrations(config),
        messages: [
          {
            key: source.processId,
            value: registrationCodec.encode(record),
            headers: { ...registrationCodec.headers },
          },
        ],
      });
      if (this.failing) this.log.info("registration published again");
      this.failing = false;
    } catch (err) {
      // Logged once per outage, not at every beat.
      if (!this.failing) {
        this.log.warn({ err, state }, "could not publish the registration; trying next beat");
      }
      this.failing = true;
    }
  }
}

function workflowInfo({ name, fn, options }: AnyWorkflowDefinition): DefinitionInfo {
  return definitionInfo(name, fn, options, options.taskQueue ?? null, options.stepTimeoutMs);
}

function stepInfo({ name, handler, options }: AnyStepDefinition): DefinitionInfo {
  return definitionInfo(
    name,
    handler,
    options,
    options.taskQueue ?? DEFAULT_TASK_QUEUE,
    options.timeoutMs,
  );
}

function definitionInfo(
  name: string,
  code: (...args: never[]) => unknown,
  options: { retry?: object },
  taskQueue: string | null,
  timeoutMs: number | undefined,
): DefinitionInfo {
  return {
    name,
    hash: definitionHash(code, options),
    taskQueue,
    retry: options.retry ? stableJson(options.retry) : null,
    timeoutMs: timeoutMs ?? null,
  };
}

/**
 * The version of a definition: sha256 of its function's source and its options (keys sorted),
 * first 16 hex digits. The same code and options give the same hash in every process.
 */
export function definitionHash(code: (...args: never[]) => unknown, options: object): string {
  return createHash("sha256")
    .update(code.toString())
    .update("\u0000")
    .update(stableJson(options))
    .digest("hex")
    .slice(0, 16);
}

/** JSON with object keys sorted, so equal values give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
