import { Command } from "commander";
import { registerProjections } from "./commands/projections";
import { registerStart } from "./commands/start";
import { registerWorkflow } from "./commands/workflow";
import { fail } from "./output";

const program = new Command()
  .name("weft")
  .description(
    "Weft: durable workflows on Kafka. `weft workflow …` talks to the Weft API (WEFT_API_URL, WEFT_API_TOKEN); `start`, `migrate` and `replay` connect to KAFKA_BROKERS, REDIS_URL, DATABASE_URL.",
  )
  .showHelpAfterError();

registerStart(program);
registerWorkflow(program);
registerProjections(program);

program.parseAsync(process.argv).catch(fail);
