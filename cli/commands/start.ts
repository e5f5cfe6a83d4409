import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { loadDefinitions } from "../../sdk/module-loader";
import { ROLES, startRuntime, type Role } from "../../sdk/runtime";
import { fail } from "../output";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description(
      "run Weft roles against Kafka and Redis, hosting the workflows and steps a module exports",
    )
    .argument("<module>", "a .ts or .js module exporting defineWorkflow/defineStep definitions")
    .option("--roles <roles>", `comma-separated roles: ${ROLES.join(",")}`, ROLES.join(","))
    .option("--concurrency <n>", "steps a worker runs at once", "32")
    .action(async (modulePath: string, opts: { roles: string; concurrency: string }) => {
      try {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const { workflows, steps } = loadDefinitions(modulePath);
        const roles = opts.roles.split(",").map((r) => r.trim()) as Role[];
        const runtime = await startRuntime({
          config,
          logger,
          workflows,
          steps,
          roles,
          worker: { concurrency: Number(opts.concurrency) },
        });
        logger.info(
          { roles, workflows: workflows.map((w) => w.name), steps: steps.map((s) => s.name) },
          "weft ready",
        );
        const example = workflows[0]?.name;
        process.stderr.write(
          `\nWeft is running (${roles.join(" + ")}) on Kafka ${config.kafkaBrokers.join(",")}.\n` +
            `Hosting workflows: ${workflows.map((w) => w.name).join(", ") || "none"}; steps: ${steps.map((s) => s.name).join(", ") || "none"}.\n` +
            (example
              ? `In another terminal:\n  npx weft workflow start ${example} --input '{"email":"ada@example.com"}' --wait\n` +
                `  npx weft workflow history <workflowId>\n`
              : "") +
            `Stop with Ctrl-C (drains running steps).\n\n`,
        );
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, "draining");
          runtime.stop().then(
            () => process.exit(0),
            (err) => {
              logger.error({ err }, "stop failed");
              process.exit(1);
            },
          );
        };
        process.on("SIGTERM", () => stop("SIGTERM"));
        process.on("SIGINT", () => stop("SIGINT"));
      } catch (err) {
        fail(err);
      }
    });
}
