import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { accessLogFromEnv } from "../../graphql/access-log";
import { DEFAULT_EMBEDDED_DIR } from "../../sdk/embedded-dir";
import { startEmbedded } from "../../sdk/starts";
import { loadDefinitions } from "../../sdk/module-loader";
import { chooseLogFormat, cliLogger, paintFor } from "../log-output";
import { fail } from "../output";
import type * as RunEvents from "../run-events";
import { announce, logCrashes, stopOnSignals } from "../serve";

interface DevCliOptions {
  dir: string;
  concurrency: string;
  accessLog?: boolean;
  schedules?: boolean;
}

/** In the human format, Weft's own log shows problems only, unless WEFT_LOG_LEVEL says more. */
const PRETTY_DEFAULT_LEVEL = "warn";

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "run every Weft role in this process with no servers (embedded mode), hosting the workflows and steps a module exports; state is kept in --dir. On a terminal it prints one line per run event; JSON logs otherwise (WEFT_LOG_FORMAT=pretty|json to choose)",
    )
    .argument("<module>", "a .ts or .js module exporting defineWorkflow/defineStep definitions")
    .option("--dir <path>", "where the embedded state is kept", DEFAULT_EMBEDDED_DIR)
    .option("--concurrency <n>", "steps the worker runs at once", "32")
    .option(
      "--access-log",
      "log every API request (off in weft dev unless this or WEFT_ACCESS_LOG=1; always on in weft start)",
    )
    .option("--schedules", "host schedules (docs/schedules.md)")
    .action(async (modulePath: string, opts: DevCliOptions) => {
      try {
        const format = chooseLogFormat(process.env, process.stdout, true);
        const config = loadConfig(
          format === "pretty" && !process.env.WEFT_LOG_LEVEL
            ? { logLevel: PRETTY_DEFAULT_LEVEL }
            : {},
        );
        const logger = cliLogger(format, config.logLevel);
        logCrashes(logger);
        const { workflows, steps, triggers } = loadDefinitions(modulePath);
        const weft = await startEmbedded({
          dir: opts.dir,
          workflows,
          steps,
          triggers,
          schedules: opts.schedules === true,
          config,
          logger,
          worker: { concurrency: Number(opts.concurrency) },
          api: { accessLog: opts.accessLog === true || accessLogFromEnv(process.env) === true },
        });
        // A person at a terminal sees the runs go by, one line per event. Loaded here: `weft
        // start` registers every command but loads only its own code.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { followRunEvents, RunEventLines } = require("../run-events") as typeof RunEvents;
        const lines = new RunEventLines(paintFor(process.stdout));
        const feed =
          format === "pretty"
            ? await followRunEvents({
                kafka: weft.backends.transport,
                config: weft.config,
                logger,
                onEvent: (event) => process.stdout.write(`${lines.line(event)}\n`),
              })
            : undefined;
        announce({
          where: `embedded, state in ${weft.dir}`,
          roles: weft.roles,
          workflows: workflows.map((w) => ({ name: w.name, example: w.options.example })),
          steps,
          apiAddress: weft.api?.address,
        });
        stopOnSignals(
          {
            stop: async () => {
              await feed?.stop();
              await weft.stop();
            },
          },
          logger,
          format === "pretty" ? (text) => process.stderr.write(text) : undefined,
        );
      } catch (err) {
        fail(err);
      }
    });
}
