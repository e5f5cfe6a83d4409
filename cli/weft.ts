import { Command } from "commander";
import { registerProjections } from "./commands/projections";
import { registerStart } from "./commands/start";
import { registerWorkflow } from "./commands/workflow";

const program = new Command()
  .name("weft")
  .description(
    "Weft: durable workflows on Kafka. Connection settings come from KAFKA_BROKERS, REDIS_URL, DATABASE_URL.",
  )
  .showHelpAfterError();

registerStart(program);
registerWorkflow(program);
registerProjections(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`weft: ${(err as Error).message}\n`);
  process.exit(1);
});
