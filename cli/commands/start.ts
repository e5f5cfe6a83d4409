import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { loadDefinitions } from "../../sdk/module-loader";
import { DEFAULT_ROLES, ROLES, startRuntime, type Role } from "../../sdk/runtime";
import { fail } from "../output";
import { announce, stopOnSignals } from "../serve";

interface StartCliOptions {
  roles: string;
  concurrency: string;
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
    .action(async (modulePath: string | undefined, opts: StartCliOptions) => {
      try {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const roles = opts.roles.split(",").map((r) => r.trim()) as Role[];
        if (modulePath === undefined && roles.some((r) => r !== "projector" && r !== "api")) {
          throw new ConfigError(
            `the ${roles.join(",")} role(s) host definitions: give the module that exports them`,
          );
        }
        const { workflows, steps } = modulePath
          ? loadDefinitions(modulePath)
          : { workflows: [], steps: [] };
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
            roles,
            worker: { concurrency: Number(opts.concurrency) },
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
        announce({
          where: `on Kafka ${config.kafkaBrokers.join(",")}`,
          roles,
          workflows,
          steps,
          apiAddress: runtime.api?.address,
        });
        stopOnSignals(runtime, logger);
      } catch (err) {
        fail(err);
      }
    });
}
