import { randomBytes } from "node:crypto";
import { resolveConfig, type ConfigInput, type WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import { startMetricsServer, type MetricsServer } from "../core/metrics";
import { Decider } from "../deciders/decider";
import type { ApiListenOptions, ApiRole, startApiRole } from "../graphql/api-role";
import { RegistrationPublisher } from "../producers/registration-publisher";
import { startProjectorRole, type ProjectorRole } from "../projections/role";
import type { Projector } from "../projections/projector";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createKafka } from "../transport/kafka";
import type { KafkaPort } from "../transport/port";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import { Worker } from "../workers";
import type { Backends } from "./backends";

export const ROLES = ["decider", "worker", "projector", "api"] as const;
export type Role = (typeof ROLES)[number];
/** What a process plays when not told: the projector needs PostgreSQL, so it is asked for. */
export const DEFAULT_ROLES: readonly Role[] = ["decider", "worker"];

export interface RuntimeOptions {
  workflows?: readonly AnyWorkflowDefinition[];
  steps?: readonly AnyStepDefinition[];
  /** Which roles this process plays; default decider and worker. */
  roles?: readonly Role[];
  config?: WeftConfig | ConfigInput;
  logger?: Logger;
  worker?: { concurrency?: number; leaseMs?: number; workerId?: string; queues?: string[] };
  /** Where the api role listens: default `PORT` (else 8080) on 127.0.0.1. */
  api?: ApiListenOptions;
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
  /** The ID this process registers under (decider and worker roles), else undefined. */
  readonly processId: string | undefined;
  /** Where /metrics is served when `metricsPort` is set and the api role is not run here. */
  readonly metricsAddress: string | undefined;
  /** The process's registry, served at /metrics: a caller may register metrics of its own. */
  readonly metrics: Registry;
  stop(): Promise<void>;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const roles = options.roles ?? DEFAULT_ROLES;
  for (const role of roles) {
    if (!ROLES.includes(role))
      throw new ConfigError(`unknown role ${JSON.stringify(role)}: use ${ROLES.join(", ")}`);
  }
  const config = resolveConfig(options.config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const backends = options.backends;
  const kafka: KafkaPort = backends?.transport ?? createKafka(config, logger);
  const workflows = options.workflows ?? [];
  const steps = options.steps ?? [];
  if (roles.includes("decider") && workflows.length === 0) {
    throw new ConfigError("the decider role needs at least one workflow definition");
  }
  if (roles.includes("worker") && steps.length === 0) {
    throw new ConfigError("the worker role needs at least one step definition");
  }
  // One registry for the whole process: every role registers its metrics in it.
  const metrics = processMetrics();
  const decider = roles.includes("decider")
    ? new Decider({ config, kafka, logger, workflows, steps, metricsRegistry: metrics })
    : undefined;
  const worker = roles.includes("worker")
    ? new Worker({
        config,
        logger,
        kafka,
        steps: [...steps],
        metricsRegistry: metrics,
        leases: backends?.stepLeases,
        ...options.worker,
      })
    : undefined;
  await decider?.start();
  await worker?.start();
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
  await registration?.start();
  // Needs no definitions: it projects whatever history holds. It migrates the schema first.
  const projector: ProjectorRole | undefined = roles.includes("projector")
    ? await startProjectorRole({ config, kafka, logger, backends: backends?.readSide })
    : undefined;
  // Needs no definitions either: it produces commands and reads the read models.
  const api: ApiRole | undefined = roles.includes("api")
    ? await loadApiRole().startApiRole({
        config,
        kafka,
        logger,
        listen: options.api,
        metrics,
        backends: backends?.readSide,
      })
    : undefined;
  let metricsServer: MetricsServer | undefined;
  const runtime: Runtime = {
    config,
    decider,
    worker,
    projector: projector?.projector,
    api,
    processId: registration?.processId,
    metrics,
    get metricsAddress() {
      return metricsServer?.address;
    },
    async stop() {
      // The API stops taking commands first; workers drain so their results reach a decider
      // that is still running.
      await api?.stop();
      await worker?.stop();
      await decider?.stop();
      // After the roles drained: "stopped" is then the truth.
      await registration?.stop();
      await projector?.stop();
      await metricsServer?.close();
    },
  };
  // Processes without the api role serve /metrics here when asked to (the API serves its own).
  if (config.metricsPort !== undefined && !roles.includes("api")) {
    try {
      metricsServer = await startMetricsServer(metrics, config.metricsPort, logger);
    } catch (err) {
      await runtime.stop();
      throw err;
    }
  }
  return runtime;
}

/** The HTTP stack loads only in processes that serve the API: deciders and workers stay lean. */
function loadApiRole(): { startApiRole: typeof startApiRole } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../graphql/api-role") as { startApiRole: typeof startApiRole };
}

/** The process's registry for /metrics: Node's process metrics, then those of its roles. */
function processMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
