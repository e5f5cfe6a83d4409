/**
 * What a client's first wait for a result costs as history grows. History is filled with
 * closed runs' events (written straight to `weft.history`, as many as --events says, in
 * steps); at each size a fresh WeftClient connects, starts a real 3-step run (a decider and a
 * worker process run it) and waits for its result, then asks for the history of a run begun
 * before it (read from that run's partition, whole), and a history tail that reads from the
 * beginning (what every client did before it followed history from where it connected)
 * catches up, side by side. Prints each one's time and the heap it keeps, with the load.
 *
 *   node --expose-gc dist/bench/client-history.js [--events 0,100000,200000,400000]
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig, topics } from "../core/config";
import { createLogger } from "../core/logger";
import { createKafka } from "../adapters/kafka/client";
import { historyCodec } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";
import { WeftClient } from "../sdk/client";
import { HistoryTail } from "../transport/history-tail";
import { threeSteps } from "../test/fixtures/workflows";
import { spawnRoles } from "../test/support/processes";

const { values } = parseArgs({
  options: { events: { type: "string", default: "0,100000,200000,400000" } },
});
const SIZES = values.events.split(",").map(Number);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function heapMb(): number {
  for (let i = 0; i < 3; i++) global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A closed run's two events, as a decider writes them (seq 1 and 2, keyed by workflow ID). */
function closedRun(workflowId: string, at: number): HistoryEvent[] {
  return [
    {
      workflowId,
      seq: 1,
      at,
      body: {
        type: "WorkflowStarted",
        workflowType: "filler",
        input: '{"n":1}',
        idempotencyKey: null,
        requestId: workflowId,
      },
    },
    { workflowId, seq: 2, at, body: { type: "WorkflowCompleted", result: '{"ok":true}' } },
  ];
}

async function main(): Promise<void> {
  const config = loadConfig({
    topicPrefix: `clienthist${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const kafka = createKafka(config, logger);
  const roles = await spawnRoles(config, "decider,worker");
  const producer = kafka.producer();
  await producer.connect();
  const history = topics.history(config);
  console.log(`client-history: sizes ${SIZES.join(", ")} events, load ${load()}`);
  console.log(
    "| events in history | connect → result, client | its heap kept | then a run begun before: first ask | heap kept then | tail from the beginning: caught up | its heap kept | load |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  let written = 0;
  try {
    for (const size of SIZES) {
      for (; written < size; written += 2000) {
        const events = Array.from({ length: 1000 }, (_, i) =>
          closedRun(`filler-${written + 2 * i}`, Date.now()),
        ).flat();
        await producer.send({
          topic: history,
          messages: events.map((e) => ({
            key: e.workflowId,
            value: historyCodec.encode(e),
            headers: { ...historyCodec.headers },
          })),
        });
      }
      const baseline = heapMb();
      const began = performance.now();
      const client = await WeftClient.connect({ config, logger, transport: kafka });
      const { workflowId } = await client.start(threeSteps, { input: { n: size } });
      await client.result(workflowId, { timeoutMs: 600_000 });
      const clientMs = performance.now() - began;
      const clientHeap = heapMb() - baseline;
      // A run begun before the client: its partition of history is read whole, once.
      const askBegan = performance.now();
      const asked = await client.getHistory(size === 0 ? workflowId : "filler-0");
      const askMs = performance.now() - askBegan;
      const last = asked[asked.length - 1]?.body.type;
      if (asked[0]?.seq !== 1 || last !== "WorkflowCompleted")
        throw new Error(`the run begun before read as ${asked.length} events, ending ${last}`);
      const askHeap = heapMb() - baseline;
      await client.close();

      const base2 = heapMb();
      const tailBegan = performance.now();
      const tail = new HistoryTail(kafka, history, logger, { from: "beginning" });
      await tail.catchUp(600_000);
      const tailMs = performance.now() - tailBegan;
      const tailHeap = heapMb() - base2;
      await tail.close();
      console.log(
        `| ${written.toLocaleString("en")} | ${clientMs.toFixed(0)} ms | ${clientHeap.toFixed(1)} MB | ${askMs.toFixed(0)} ms | ${askHeap.toFixed(1)} MB | ${tailMs.toFixed(0)} ms | ${tailHeap.toFixed(1)} MB | ${load()} |`,
      );
    }
  } finally {
    await producer.disconnect();
    await roles.kill9();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
