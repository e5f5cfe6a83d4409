import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { loadDefinitions } from "../../sdk/module-loader";
import { DEFAULT_ROLES, ROLES, startRuntime, type Role } from "../../sdk/runtime";
import { DEFAULT_API_URL } from "../api-client";
import { fail } from "../output";

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
            (runtime.api
              ? `GraphQL: ${runtime.api.address}/graphql (queries, mutations; subscriptions over WebSocket)\n` +
                `Dashboard: ${runtime.api.address}/\n`
              : "") +
            (example ? cliHint(example, runtime.api?.address) : "") +
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

/** How to try the hosted workflows with `weft workflow`, which talks to the API. */
function cliHint(example: string, apiAddress: string | undefined): string {
  const env = apiAddress && apiAddress !== DEFAULT_API_URL ? `WEFT_API_URL=${apiAddress} ` : "";
  return (
    `In another terminal:\n  ${env}npx weft workflow start ${example} --input '{"email":"ada@example.com"}' --wait\n` +
    `  ${env}npx weft workflow describe <workflowId>\n` +
    (apiAddress
      ? ""
      : `(the weft workflow commands talk to the API at WEFT_API_URL: run one with --roles api,projector)\n`)
  );
}
