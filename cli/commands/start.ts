import cluster from "node:cluster";
import type { Command } from "commander";
import { loadConfig, type WeftConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import { loadDefinitions } from "../../sdk/module-loader";
import { DEFAULT_ROLES, ROLES, type Role } from "../../sdk/roles";
import { startRuntime } from "../../sdk/starts";
import { chooseLogFormat, cliLogger } from "../log-output";
import { fail } from "../output";
import { announce, logCrashes, stopOnSignals } from "../serve";
import { reportReady, serveSupervisorMetrics, supervisedChild } from "../supervisor/child";
import { CHILD_INDEX_ENV, SUPERVISOR_PID_ENV } from "../supervisor/protocol";
import { DEFAULT_DRAIN_TIMEOUT_MS, Supervisor } from "../supervisor/supervisor";

interface StartCliOptions {
  roles: string;
  concurrency: string;
  processes?: string;
  drainTimeout: string;
  schedules?: boolean;
}

export function registerStart(program: Command): void {
  program
    .command("start")
    .description(
      "run Weft roles against Kafka and Redis, hosting the workflows and steps a module exports",
    )
    .argument(
      "[module]",
      "a .ts or .js module exporting defineWorkflow/defineStep definitions (not needed by the projector and api roles)",
    )
    .option("--roles <roles>", `comma-separated roles: ${ROLES.join(",")}`, DEFAULT_ROLES.join(","))
    .option("--concurrency <n>", "steps a worker runs at once", "32")
    .option(
      "--processes <n>",
      "run a supervisor that keeps n child processes running these roles (node:cluster): it restarts a crashed child with backoff and passes SIGTERM/SIGINT on for a graceful drain; api children share PORT",
    )
    .option(
      "--drain-timeout <ms>",
      "with --processes: how long children get to drain after SIGTERM/SIGINT before they are killed",
      String(DEFAULT_DRAIN_TIMEOUT_MS),
    )
    .option(
      "--schedules",
      "host schedules: the decider role runs the weft.schedule workflow and the worker role its steps (docs/schedules.md)",
    )
    .action(async (modulePath: string | undefined, opts: StartCliOptions) => {
      try {
        const child = supervisedChild();
        // A supervised child registers under an ID that names its supervisor and slot.
        const config = loadConfig(child ? { clientId: `weft-${child.processId}` } : {});
        // JSON lines, wherever stdout goes, unless WEFT_LOG_FORMAT says otherwise.
        const format = chooseLogFormat(process.env, process.stdout, false);
        const logger = cliLogger(format, config.logLevel, child ? { child: child.index } : {});
        logCrashes(logger);
        const roles = parseRoles(opts.roles);
        if (modulePath === undefined && roles.some((r) => r !== "projector" && r !== "api")) {
          throw new ConfigError(
            `the ${roles.join(",")} role(s) host definitions: give the module that exports them`,
          );
        }
        if (opts.processes !== undefined && cluster.isPrimary) {
          const code = await supervise(config, logger, {
            processes: intOption("--processes", opts.processes, 1, 256),
            drainTimeoutMs: intOption("--drain-timeout", opts.drainTimeout, 0, 3_600_000),
          });
          process.exit(code);
        }
        if (opts.processes !== undefined && !child) {
          // A node:cluster worker of another manager (PM2's cluster mode): it runs the instances.
          logger.warn(
            "--processes is ignored in a node:cluster worker: its manager runs the instances",
          );
        }
        const { workflows, steps, triggers } = modulePath
          ? loadDefinitions(modulePath)
          : { workflows: [], steps: [], triggers: [] };
        // A signal while the roles still wait for Kafka, Redis or PostgreSQL stops them too.
        const interrupted = new AbortController();
        const interrupt = () => interrupted.abort();
        process.once("SIGTERM", interrupt);
        process.once("SIGINT", interrupt);
        let runtime;
        try {
          runtime = await startRuntime({
            config,
            logger,
            workflows,
            steps,
            triggers,
            roles,
            schedules: opts.schedules === true,
            worker: {
              concurrency: Number(opts.concurrency),
              ...(child ? { workerId: child.processId } : {}),
            },
            signal: interrupted.signal,
          });
        } catch (err) {
          if (!interrupted.signal.aborted) throw err;
          logger.info("stopped while starting");
          process.exit(0);
        } finally {
          process.off("SIGTERM", interrupt);
          process.off("SIGINT", interrupt);
        }
        logger.info(
          { roles, workflows: workflows.map((w) => w.name), steps: steps.map((s) => s.name) },
          "weft ready",
        );
        stopOnSignals(runtime, logger);
        if (child) {
          serveSupervisorMetrics(runtime.metrics, child);
          reportReady({
            processId: runtime.processId ?? null,
            apiAddress: runtime.api?.address ?? null,
            metricsAddress: runtime.metricsAddress ?? null,
            roles,
            workflows: workflows.map((w) => w.name),
            steps: steps.map((s) => s.name),
            examples: Object.fromEntries(
              workflows.flatMap((w) => (w.options.example ? [[w.name, w.options.example]] : [])),
            ),
          });
          return;
        }
        announce({
          where: `on Kafka ${config.kafkaBrokers.join(",")}`,
          roles,
          workflows: workflows.map((w) => ({ name: w.name, example: w.options.example })),
          steps,
          apiAddress: runtime.api?.address,
        });
        // A process manager that forked us with an IPC channel (PM2's `wait_ready`) counts us
        // online from this message.
        process.send?.("ready");
      } catch (err) {
        fail(err);
      }
    });
}

/**
 * Runs the supervisor until a stop signal and every child is gone; resolves with its exit code.
 * Children get the same command line; the supervisor itself loads no definitions.
 */
async function supervise(
  config: WeftConfig,
  logger: Logger,
  options: { processes: number; drainTimeoutMs: number },
): Promise<number> {
  const { processes } = options;
  const metricsPort = config.metricsPort;
  // Children without the api role serve /metrics on a port each (a shared port would answer
  // from whichever child took the connection): child i on WEFT_METRICS_PORT + i.
  if (metricsPort && metricsPort + processes - 1 > 65_535) {
    throw new ConfigError(
      `WEFT_METRICS_PORT ${metricsPort} leaves no room for ${processes} children (child i serves on port + i): choose a lower port`,
    );
  }
  const supervisor = new Supervisor({
    ...options,
    logger,
    childEnv: (index) => ({
      [SUPERVISOR_PID_ENV]: String(process.pid),
      [CHILD_INDEX_ENV]: String(index),
      ...(metricsPort ? { WEFT_METRICS_PORT: String(metricsPort + index) } : {}),
    }),
    onReady: (ready) =>
      announce({
        where: `in ${processes} child process${processes === 1 ? "" : "es"} on Kafka ${config.kafkaBrokers.join(",")}`,
        roles: ready.roles,
        workflows: ready.workflows.map((name) => ({ name, example: ready.examples?.[name] })),
        steps: ready.steps.map((name) => ({ name })),
        apiAddress: ready.apiAddress ?? undefined,
      }),
  });
  process.on("SIGTERM", () => supervisor.stop("SIGTERM"));
  process.on("SIGINT", () => supervisor.stop("SIGINT"));
  supervisor.start();
  return supervisor.exited;
}

function parseRoles(text: string): Role[] {
  const roles = text.split(",").map((r) => r.trim());
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new ConfigError(`unknown role ${JSON.stringify(role)}: use ${ROLES.join(", ")}`);
    }
  }
  return roles as Role[];
}

function intOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
