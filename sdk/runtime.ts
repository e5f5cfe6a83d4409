import type { Kafka } from "kafkajs";
import { loadConfig, type ConfigInput, type WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import { Decider } from "../deciders/decider";
import { createKafka } from "../transport/kafka";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import { Worker } from "../workers";

export const ROLES = ["decider", "worker"] as const;
export type Role = (typeof ROLES)[number];

export interface RuntimeOptions {
  workflows?: readonly AnyWorkflowDefinition[];
  steps?: readonly AnyStepDefinition[];
  /** Which roles this process plays; default both. */
  roles?: readonly Role[];
  config?: WeftConfig | ConfigInput;
  logger?: Logger;
  worker?: { concurrency?: number; leaseMs?: number; workerId?: string; queues?: string[] };
}

/** The roles one process runs, started together and stopped together. */
export interface Runtime {
  readonly config: WeftConfig;
  readonly decider: Decider | undefined;
  readonly worker: Worker | undefined;
  stop(): Promise<void>;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const roles = options.roles ?? ROLES;
  for (const role of roles) {
    if (!ROLES.includes(role))
      throw new ConfigError(`unknown role ${JSON.stringify(role)}: use ${ROLES.join(", ")}`);
  }
  const config =
    options.config && Object.isFrozen(options.config)
      ? (options.config as WeftConfig)
      : loadConfig(options.config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const kafka: Kafka = createKafka(config, logger);
  const workflows = options.workflows ?? [];
  const steps = options.steps ?? [];
  if (roles.includes("decider") && workflows.length === 0) {
    throw new ConfigError("the decider role needs at least one workflow definition");
  }
  if (roles.includes("worker") && steps.length === 0) {
    throw new ConfigError("the worker role needs at least one step definition");
  }
  const decider = roles.includes("decider")
    ? new Decider({ config, kafka, logger, workflows, steps })
    : undefined;
  const worker = roles.includes("worker")
    ? new Worker({ config, logger, kafka, steps: [...steps], ...options.worker })
    : undefined;
  await decider?.start();
  await worker?.start();
  return {
    config,
    decider,
    worker,
    async stop() {
      // Workers drain first so their results reach a decider that is still running.
      await worker?.stop();
      await decider?.stop();
    },
  };
}
