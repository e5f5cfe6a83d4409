import { randomBytes } from "node:crypto";
import { resolveConfig, type ConfigInput, type WeftConfig } from "../core/config";
import { ConfigError, RoleStoppedError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import {
  registerDependencyWaitGauge,
  startMetricsServer,
  type MetricsServer,
} from "../core/metrics";
import { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import type { Decider } from "../deciders/decider";
import type { ApiListenOptions, ApiRole, startApiRole } from "../graphql/api-role";
import { RegistrationPublisher } from "../producers/registration-publisher";
import type { startProjectorRole } from "../projections/role";
import type { Projector } from "../projections/projector";
import { collectDefaultMetrics, Registry } from "prom-client";
import { serverBackends } from "../adapters/server-backends";
import type { KafkaPort } from "../transport/port";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import type { Worker } from "../workers";
import { assertDistinctTriggers, type TriggerDefinition } from "../triggers/definition";
import { TriggerCounters } from "../triggers/trigger-counters";
import type { TriggerRole, startTriggerRole } from "../triggers/trigger-role";
import type { Backends } from "../adapters/backends";
import { hostSchedules } from "./schedules";
import { DEFAULT_ROLES, ROLES, type Role } from "./roles";

export type { Role } from "./roles";

export interface RuntimeOptions {
  workflows?: readonly AnyWorkflowDefinition[];
  steps?: readonly AnyStepDefinition[];
  /**
   * Triggers (defineTrigger): the trigger role consumes the Kafka ones; the api role serves
   * the webhooks at /hooks/<name> and lists them all.
   */
  triggers?: readonly TriggerDefinition[];
  /**
   * Hosts schedules (docs/schedules.md): the decider role runs the built-in `weft.schedule`
   * workflow and the worker role its steps (on the default task queue). Default false.
   */
  schedules?: boolean;
  /** Which roles this process plays; default decider and worker. */
  roles?: readonly Role[];
  config?: WeftConfig | ConfigInput;
  logger?: Logger;
  worker?: { concurrency?: number; leaseMs?: number; workerId?: string; queues?: string[] };
  /** Where the api role listens: default `PORT` (else 8080) on 127.0.0.1. */
  api?: ApiListenOptions;
  /**
   * Aborting it ends a start that still waits for a dependency: the roles that started are
   * stopped and startRuntime rejects with STOPPED. Once started, use `stop()`.
   */
  signal?: AbortSignal;
  /**
   * What the roles run on (the caller closes them). Default: Kafka, Redis and PostgreSQL from
   * the config. `{ transport }` alone swaps the transport and keeps Redis and PostgreSQL.
   */
  backends?: Backends;
}

/** The roles one process runs, started together and stopped together. */
export interface Runtime {
  readonly config: WeftConfig;
  readonly decider: Decider | undefined;
  readonly worker: Worker | undefined;
  readonly projector: Projector | undefined;
  readonly api: ApiRole | undefined;
  /** The Kafka trigger consumers (trigger role), else undefined. */
  readonly trigger: TriggerRole | undefined;
  /** The ID this process registers under (decider and worker roles), else undefined. */
  readonly processId: string | undefined;
  /** Where /metrics is served when `metricsPort` is set and the api role is not run here. */
  readonly metricsAddress: string | undefined;
  /** The process's registry, served at /metrics: a caller may register metrics of its own. */
  readonly metrics: Registry;
  stop(): Promise<void>;
}

/**
 * Starts the roles together. A role waits (retrying with capped, jittered backoff, and saying
 * so on /readyz) while Kafka, Redis or PostgreSQL is unreachable, so this resolves once every
 * role runs, however long its dependencies take to come; meanwhile the api role already
 * answers /healthz and /readyz on its port, and a process without it serves /readyz next to
 * /metrics (`metricsPort`). It rejects only on a configuration error (INVALID_CONFIG,
 * SCHEMA_MISMATCH), after stopping the roles that started, or with STOPPED when `signal`
 * aborts first.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const roles = options.roles ?? DEFAULT_ROLES;
  for (const role of roles) {
    if (!ROLES.includes(role))
      throw new ConfigError(`unknown role ${JSON.stringify(role)}: use ${ROLES.join(", ")}`);
  }
  const config = resolveConfig(options.config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const backends = serverBackends(config, logger, options.backends);
  const kafka: KafkaPort = backends.transport;
  const schedules = options.schedules ? hostSchedules(kafka, config, logger) : undefined;
  const workflows = [...(options.workflows ?? []), ...(schedules?.workflows ?? [])];
  const steps = [...(options.steps ?? []), ...(schedules?.steps ?? [])];
  if (roles.includes("decider") && workflows.length === 0) {
    throw new ConfigError("the decider role needs at least one workflow definition");
  }
  if (roles.includes("worker") && steps.length === 0) {
    throw new ConfigError("the worker role needs at least one step definition");
  }
  const triggers = options.triggers ?? [];
  assertDistinctTriggers(triggers);
  if (roles.includes("trigger") && !triggers.some((t) => t.source.type === "kafka")) {
    throw new ConfigError("the trigger role needs at least one Kafka trigger (defineTrigger)");
  }
  const triggerCounters = new TriggerCounters();
  // One registry for the whole process: every role registers its metrics in it.
  const metrics = processMetrics();
  // One readiness for the whole process: what each role waits for, for /readyz.
  const readiness = new Readiness();
  registerDependencyWaitGauge(metrics, readiness);
  const stopping = new AbortController();
  const { signal } = options;
  const onAbort = () => stopping.abort();
  if (signal?.aborted) stopping.abort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const decider = roles.includes("decider")
    ? new (loadDecider().Decider)({
        config,
        kafka,
        decisionLog: backends.decisionLog,
        logger,
        workflows,
        steps,
        metricsRegistry: metrics,
      })
    : undefined;
  // A worker beside a decider reports to it directly (config.localDispatch). On Kafka it also
  // takes the tasks the decider commits at once; the embedded log hands tasks over in-process
  // already, and its done-markers need the task's offset, which only the log's copy has.
  const localDecider = decider && config.localDispatch ? decider : undefined;
  const worker = roles.includes("worker")
    ? new (loadWorker().Worker)({
        config,
        logger,
        kafka,
        steps: [...steps],
        metricsRegistry: metrics,
        leases: backends.stepLeases,
        readiness,
        localDecider,
        ...options.worker,
      })
    : undefined;
  if (localDecider && worker && !backends.leasesGiven) {
    localDecider.onTasksCommitted((work) => worker.offer(work));
    worker.besideDecider(localDecider);
  }
  // Served from the start, so that /readyz answers while the roles wait.
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined && !roles.includes("api")) {
    metricsServer = await startMetricsServer(metrics, config.metricsPort, logger, readiness);
  }
  // Each role starts on its own: one waiting for PostgreSQL does not hold back the others.
  const starting =
    (role: Role) =>
    <T>(start: () => Promise<T>): Promise<T> => {
      readiness.roleStarting(role);
      return start().then(
        (value) => {
          readiness.roleStarted(role);
          return value;
        },
        (err: unknown) => {
          // A configuration error ends the whole start; the others stop waiting.
          stopping.abort();
          throw err;
        },
      );
    };
  // The worker's own stop ends its waits.
  stopping.signal.addEventListener("abort", () => void worker?.stop(), { once: true });
  const deciderStart = decider
    ? starting("decider")(() =>
        untilAvailable(
          {
            role: "decider",
            log: logger.child({ role: "decider" }),
            readiness,
            signal: stopping.signal,
          },
          "kafka",
          "start the decider",
          () => startDecider(decider, stopping.signal),
        ),
      )
    : undefined;
  const workerStart = worker ? starting("worker")(() => worker.start()) : undefined;
  // One registration per process for both roles: what it hosts, its queues and its load.
  const registration =
    decider || worker
      ? new RegistrationPublisher({
          kafka,
          config,
          logger,
          source: {
            processId: worker?.id ?? `${config.clientId}-${randomBytes(3).toString("hex")}`,
            roles: roles.filter((r) => r === "decider" || r === "worker"),
            workflows: decider ? workflows : [],
            steps: worker ? steps : [],
            queues: worker?.queues ?? [],
            concurrency: worker?.concurrency ?? null,
            inFlight: () => worker?.inFlight ?? 0,
          },
        })
      : undefined;
  const registrationStart = registration
    ? Promise.all([deciderStart, workerStart]).then(() => registration.start())
    : undefined;
  // Needs no definitions: it projects whatever history holds. It migrates the schema first.
  const projectorStart = roles.includes("projector")
    ? starting("projector")(() =>
        loadProjectorRole().startProjectorRole({
          config,
          kafka,
          logger,
          readSide: backends.readSide,
          readiness,
          metrics,
          signal: stopping.signal,
        }),
      )
    : undefined;
  // Needs no definitions either: it produces commands and reads the read models.
  const apiStart = roles.includes("api")
    ? starting("api")(() =>
        loadApiRole().startApiRole({
          config,
          kafka,
          logger,
          listen: options.api,
          metrics,
          readSide: backends.readSide,
          readiness,
          signal: stopping.signal,
          triggers: { definitions: triggers, counters: triggerCounters },
        }),
      )
    : undefined;
  // Needs a broker (or the embedded log) only: it turns records into commands.
  const triggerStart = roles.includes("trigger")
    ? starting("trigger")(() =>
        loadTriggerRole().startTriggerRole({
          config,
          kafka,
          decisionLog: backends.decisionLog,
          logger,
          triggers,
          counters: triggerCounters,
          readiness,
          signal: stopping.signal,
        }),
      )
    : undefined;
  const [
    deciderOutcome,
    workerOutcome,
    registrationOutcome,
    projectorOutcome,
    apiOutcome,
    triggerOutcome,
  ] = await Promise.allSettled([
    deciderStart,
    workerStart,
    registrationStart,
    projectorStart,
    apiStart,
    triggerStart,
  ]);
  signal?.removeEventListener("abort", onAbort);
  const projector = settledValue(projectorOutcome);
  const api = settledValue(apiOutcome);
  const trigger = settledValue(triggerOutcome);
  const runtime: Runtime = {
    config,
    decider,
    worker,
    projector: projector?.projector,
    api,
    trigger,
    processId: registration?.processId,
    metrics,
    get metricsAddress() {
      return metricsServer?.address;
    },
    async stop() {
      // The API stops taking commands first; workers drain so their results reach a decider
      // that is still running.
      await api?.stop();
      // Before the deciders: what it commits meanwhile waits in Kafka for the next ones.
      await trigger?.stop();
      await worker?.stop();
      await schedules?.close();
      if (deciderOutcome.status === "fulfilled") await decider?.stop();
      // After the roles drained: "stopped" is then the truth.
      if (registrationOutcome.status === "fulfilled") await registration?.stop();
      await projector?.stop();
      await metricsServer?.close();
      await backends.close();
    },
  };
  const failures = [
    deciderOutcome,
    workerOutcome,
    registrationOutcome,
    projectorOutcome,
    apiOutcome,
    triggerOutcome,
  ]
    .filter((o): o is PromiseRejectedResult => o.status === "rejected")
    .map((o) => o.reason as unknown);
  if (failures.length > 0) {
    await runtime.stop().catch((err: unknown) => logger.warn({ err }, "stop after a failed start"));
    // The error that ended the start, not the stops it caused in the other roles.
    throw failures.find((err) => !(err instanceof RoleStoppedError)) ?? failures[0];
  }
  return runtime;
}

/**
 * One try of `decider.start()`, which undoes a failed try itself (its consumer disconnected)
 * and may be tried again. A try that ends after the runtime stopped stops the decider.
 */
async function startDecider(decider: Decider, stopping: AbortSignal): Promise<void> {
  await decider.start();
  if (stopping.aborted) {
    await decider.stop().catch(() => undefined);
    throw new RoleStoppedError("decider", "start the decider");
  }
}

function settledValue<T>(outcome: PromiseSettledResult<T> | undefined): T | undefined {
  return outcome?.status === "fulfilled" ? outcome.value : undefined;
}

/*
 * Each role's code loads only in the processes that play it: a process restarted after a crash
 * compiles only what it runs, and is ready that much sooner on a busy machine.
 */

function loadDecider(): { Decider: typeof Decider } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../deciders/decider") as { Decider: typeof Decider };
}

function loadWorker(): { Worker: typeof Worker } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../workers") as { Worker: typeof Worker };
}

function loadProjectorRole(): { startProjectorRole: typeof startProjectorRole } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../projections/role") as { startProjectorRole: typeof startProjectorRole };
}

/** The HTTP stack loads only in processes that serve the API: deciders and workers stay lean. */
function loadApiRole(): { startApiRole: typeof startApiRole } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../graphql/api-role") as { startApiRole: typeof startApiRole };
}

/** Loaded only where the trigger role runs. */
function loadTriggerRole(): { startTriggerRole: typeof startTriggerRole } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../triggers/trigger-role") as { startTriggerRole: typeof startTriggerRole };
}

/** The process's registry for /metrics: Node's process metrics, then those of its roles. */
function processMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
