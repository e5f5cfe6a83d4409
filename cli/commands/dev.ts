import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { DEFAULT_EMBEDDED_DIR, startEmbedded } from "../../sdk/embedded";
import { loadDefinitions } from "../../sdk/module-loader";
import { fail } from "../output";
import { announce, stopOnSignals } from "../serve";

interface DevCliOptions {
  dir: string;
  concurrency: string;
}

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "run every Weft role in this process with no servers (embedded mode), hosting the workflows and steps a module exports; state is kept in --dir",
    )
    .argument("<module>", "a .ts or .js module exporting defineWorkflow/defineStep definitions")
    .option("--dir <path>", "where the embedded state is kept", DEFAULT_EMBEDDED_DIR)
    .option("--concurrency <n>", "steps the worker runs at once", "32")
    .action(async (modulePath: string, opts: DevCliOptions) => {
      try {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const { workflows, steps } = loadDefinitions(modulePath);
        const weft = await startEmbedded({
          dir: opts.dir,
          workflows,
          steps,
          config,
          logger,
          worker: { concurrency: Number(opts.concurrency) },
        });
        announce({
          where: `embedded, state in ${weft.dir}`,
          roles: weft.roles,
          workflows,
          steps,
          apiAddress: weft.api?.address,
        });
        stopOnSignals(weft, logger);
      } catch (err) {
        fail(err);
      }
    });
}
