/**
 * Child of dev-growth.ts: the embedded engine (`startEmbedded`, as `weft dev` runs it: decider,
 * worker, projector on SQLite read models) on a directory, with a 3-step workflow. Prints
 * `READY <ms>` once started, then answers lines on stdin:
 *   `run <n> <inflight>` → starts n runs, at most inflight unfinished, prints `DONE <ms>`
 *   `stat` → collects garbage, prints `STAT {"rss":…,"heap":…}` (bytes)
 *   `heap <file>` → writes a V8 heap snapshot there (to see what holds the heap), prints `HEAP`
 */
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { writeHeapSnapshot } from "node:v8";
import { createLogger } from "../core/logger";
import { defineStep, defineWorkflow } from "../sdk";
import { startEmbedded } from "../sdk/embedded";
import type { EmbeddedKafka } from "../adapters/embedded";

const echo = defineStep("echo", (input: unknown) => input);
const threeSteps = defineWorkflow("threeSteps", async (ctx, input: { n: number }) => {
  const a = await ctx.step<{ n: number }>(echo, { n: input.n + 1 });
  const b = await ctx.step<{ n: number }>(echo, { n: a.n + 1 });
  return ctx.step<{ n: number }>(echo, { n: b.n + 1 });
});

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const began = Date.now();
  const logger = createLogger("warn");
  const weft = await startEmbedded({
    dir,
    workflows: [threeSteps],
    steps: [echo],
    api: false,
    logger,
    config: { logLevel: "warn" },
  });
  const kafka = weft.backends.transport as EmbeddedKafka;
  const client = await weft.connectClient();

  // Runs started by this process that have not completed yet, told by their history.
  const open = new Set<string>();
  let wake: (() => void) | undefined;
  const watch = kafka.consumer({
    groupId: `dev-growth-watch-${randomUUID()}`,
    maxWaitTimeInMs: 50,
  });
  await watch.connect();
  await watch.subscribe({ topic: `${client.config.topicPrefix}.history`, fromBeginning: false });
  await watch.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.headers?.["weft-event"]?.toString() !== "WorkflowCompleted") continue;
        if (m.key && open.delete(m.key.toString())) wake?.();
      }
      await Promise.resolve();
    },
  });
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return;
        wake = undefined;
        resolve();
      };
      wake = check;
      check();
    });

  process.stdout.write(`READY ${Date.now() - began}\n`);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === "run") {
      const [n, inflight] = args.map(Number) as [number, number];
      const at = Date.now();
      for (let started = 0; started < n;) {
        await until(() => open.size < inflight);
        const batch = Math.min(100, n - started, inflight - open.size);
        const ids = await Promise.all(
          Array.from({ length: batch }, (_, i) =>
            client.start(threeSteps, { input: { n: started + i } }).then((r) => r.workflowId),
          ),
        );
        for (const id of ids) open.add(id);
        started += batch;
      }
      await until(() => open.size === 0);
      process.stdout.write(`DONE ${Date.now() - at}\n`);
    } else if (command === "stat") {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      process.stdout.write(
        `STAT ${JSON.stringify({ rss: m.rss, heap: m.heapUsed + m.arrayBuffers })}\n`,
      );
    } else if (command === "heap") {
      writeHeapSnapshot(args[0]);
      process.stdout.write("HEAP\n");
    }
  }
  // stdin closed: the parent is done with this child (it is normally killed, never asked).
  process.exit(0);
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
