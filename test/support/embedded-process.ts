/**
 * An embedded Weft process for durability tests: every role it can run, on the directory
 * `WEFT_EMBEDDED_DIR`, started as a child and killed with SIGKILL. Once ready it starts the
 * runs in `WEFT_START` (JSON: `[{ type, workflowId, input }]`), sends the signals in
 * `WEFT_SIGNAL` (JSON: `[{ workflowId, name, payload }]`), and prints `EVENT <workflowId> <seq>
 * <type>` for each event of the runs named in `WEFT_WATCH` (comma-separated) or started here.
 * With `WEFT_SCHEDULES=1` it hosts schedules and makes those in `WEFT_SCHEDULE_CREATE` (JSON:
 * `[ScheduleDefinition]`; a schedule that runs already is left as it is).
 */
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { startEmbedded } from "../../sdk/embedded";
import type { ScheduleDefinition } from "../../sdk";
import { steps, workflows } from "../fixtures/workflows";
import { recordTick, scheduledJob } from "../fixtures/scheduled";

interface StartRequest {
  type: string;
  workflowId: string;
  input?: unknown;
}

interface SignalRequest {
  workflowId: string;
  name: string;
  payload?: unknown;
}

function jsonList<T>(name: string): T[] {
  const raw = process.env[name];
  return raw ? (JSON.parse(raw) as T[]) : [];
}

async function main(): Promise<void> {
  const dir = process.env.WEFT_EMBEDDED_DIR;
  if (!dir) throw new Error("WEFT_EMBEDDED_DIR is not set");
  const config = loadConfig();
  const schedules = process.env.WEFT_SCHEDULES === "1";
  const weft = await startEmbedded({
    dir,
    workflows: schedules ? [...workflows, scheduledJob] : workflows,
    steps: schedules ? [...steps, recordTick] : steps,
    schedules,
    database: false,
    config,
    logger: createLogger(config.logLevel, { role: "embedded" }),
  });
  const client = await weft.connectClient();
  process.stdout.write(`READY ${process.pid}\n`);
  const starts = jsonList<StartRequest>("WEFT_START");
  for (const start of starts) {
    await client.start(start.type, { workflowId: start.workflowId, input: start.input });
  }
  for (const schedule of jsonList<ScheduleDefinition>("WEFT_SCHEDULE_CREATE")) {
    await client.schedules.create(schedule);
  }
  for (const signal of jsonList<SignalRequest>("WEFT_SIGNAL")) {
    await client.signal(signal.workflowId, signal.name, signal.payload);
  }
  const watched = [
    ...(process.env.WEFT_WATCH?.split(",").filter(Boolean) ?? []),
    ...starts.map((s) => s.workflowId),
  ];
  const printed = new Map<string, number>();
  const timer = setInterval(() => {
    void (async () => {
      for (const id of watched) {
        const events = await client.getHistory(id);
        for (const event of events.slice(printed.get(id) ?? 0)) {
          process.stdout.write(`EVENT ${id} ${event.seq} ${event.body.type}\n`);
        }
        printed.set(id, Math.max(printed.get(id) ?? 0, events.length));
      }
    })();
  }, 20);
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
