/**
 * An embedded Weft process for durability tests: every role it can run, on the directory
 * `WEFT_EMBEDDED_DIR`, started as a child and killed with SIGKILL. With `WEFT_START` (JSON:
 * `{ type, workflowId, input }`) it starts that run once ready; with `WEFT_WATCH` (a workflow
 * ID, or the started one) it prints `EVENT <seq> <type>` for each event of that run's history.
 */
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { startEmbedded } from "../../sdk/embedded";
import { steps, workflows } from "../fixtures/workflows";

interface StartRequest {
  type: string;
  workflowId: string;
  input?: unknown;
}

async function main(): Promise<void> {
  const dir = process.env.WEFT_EMBEDDED_DIR;
  if (!dir) throw new Error("WEFT_EMBEDDED_DIR is not set");
  const config = loadConfig();
  const weft = await startEmbedded({
    dir,
    workflows,
    steps,
    database: false,
    config,
    logger: createLogger(config.logLevel, { role: "embedded" }),
  });
  const client = await weft.connectClient();
  process.stdout.write(`READY ${process.pid}\n`);
  const start = process.env.WEFT_START
    ? (JSON.parse(process.env.WEFT_START) as StartRequest)
    : undefined;
  if (start) {
    await client.start(start.type, { workflowId: start.workflowId, input: start.input });
    process.stdout.write(`STARTED ${start.workflowId}\n`);
  }
  const watched = process.env.WEFT_WATCH ?? start?.workflowId;
  let printed = 0;
  const timer = watched
    ? setInterval(() => {
        void client.getHistory(watched).then((events) => {
          for (const event of events.slice(printed)) {
            process.stdout.write(`EVENT ${event.seq} ${event.body.type}\n`);
          }
          printed = Math.max(printed, events.length);
        });
      }, 20)
    : undefined;
  process.on("SIGTERM", () => {
    clearInterval(timer);
    void client
      .close()
      .then(() => weft.stop())
      .then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`embedded process failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
