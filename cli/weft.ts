import { Command } from "commander";
import { registerDev } from "./commands/dev";
import { registerHistory } from "./commands/history-export";
import { registerInit } from "./commands/init";
import { registerProjections } from "./commands/projections";
import { registerRepair } from "./commands/repair";
import { registerStart } from "./commands/start";
import { registerWorkflow } from "./commands/workflow";
import { registerWorkflows } from "./commands/workflows-bulk";
import { registerSchedule } from "./commands/schedule";
import { fail } from "./output";
import { weftPackage } from "./package-info";

const program = new Command()
  .name("weft")
  .description(
    "Weft: durable workflows on Kafka. `weft init` creates a project; `weft dev` runs everything in one process with no servers; `weft workflow …` talks to the Weft API (WEFT_API_URL, WEFT_API_TOKEN); `start`, `migrate`, `replay` and `history` connect to KAFKA_BROKERS, REDIS_URL, DATABASE_URL; `repair` checks an embedded log.",
  )
  .version(weftPackage().version)
  .addHelpText(
    "after",
    [
      "",
      "Exit codes:",
      "  0  done (wait and start --wait: the run completed)",
      "  1  a failure without a Weft code: the API unreachable, a run not in the read models,",
      "     a usage mistake; `replay workflows`: a run diverged",
      "  2  a coded Weft error, printed as `weft: <CODE>: <message>`: invalid input or",
      "     configuration, WAIT_TIMEOUT, a run that failed, was cancelled or is blocked,",
      "     NOT_FOUND, RUN_CLOSED, UNAUTHENTICATED, …; `repair`: damage left in place",
    ].join("\n"),
  )
  .showHelpAfterError();

registerInit(program);
registerDev(program);
registerStart(program);
registerWorkflow(program);
registerWorkflows(program);
registerSchedule(program);
registerProjections(program);
registerHistory(program);
registerRepair(program);

program.parseAsync(process.argv).catch(fail);
