/** A decider and/or worker process for fault tests: started as a child, killed with SIGKILL. */
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { startRuntime, type Role } from "../../sdk/runtime";
import { ordersTrigger } from "../fixtures/triggers";
import { steps, workflows } from "../fixtures/workflows";
import { recordTick, scheduledJob } from "../fixtures/scheduled";

async function main(): Promise<void> {
  const config = loadConfig();
  const roles = (process.env.WEFT_ROLES ?? "decider,worker").split(",") as Role[];
  // SIGTERM while the roles still wait for a dependency ends the start (and the process).
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once("SIGTERM", interrupt);
  let runtime;
  try {
    runtime = await startRuntime({
      config,
      logger: createLogger(config.logLevel, { role: roles.join("+") }),
      // WEFT_SCHEDULES=1: also hosts schedules and the job they start (test/fault/schedules).
      ...(process.env.WEFT_SCHEDULES === "1"
        ? {
            workflows: [...workflows, scheduledJob],
            steps: [...steps, recordTick],
            schedules: true,
          }
        : { workflows, steps }),
      // The trigger tests name the topic their orders trigger reads.
      triggers: process.env.WEFT_TRIGGER_TOPIC
        ? [ordersTrigger(process.env.WEFT_TRIGGER_TOPIC)]
        : [],
      roles,
      worker: {
        leaseMs: Number(process.env.WEFT_LEASE_MS ?? 10_000),
        concurrency: Number(process.env.WEFT_WORKER_CONCURRENCY ?? 32),
      },
      signal: interrupted.signal,
    });
  } catch (err) {
    if (interrupted.signal.aborted) process.exit(0);
    throw err;
  } finally {
    process.off("SIGTERM", interrupt);
  }
  const started = runtime;
  await started.decider?.ready();
  process.stdout.write(`READY ${process.pid}\n`);
  // For benchmarks of what a process keeps: its heap after a full collection, once ready.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (process.env.WEFT_REPORT_MEMORY === "1" && gc) {
    // Buffers' memory returns after a collection finalizes them: collect until it is stable.
    let last = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 10; i++) {
      gc();
      // A turn of the event loop lets the collected buffers' finalizers run.
      await new Promise((r) => setImmediate(r));
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      if (heapUsed + arrayBuffers >= last * 0.999) break;
      last = heapUsed + arrayBuffers;
    }
    const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
    process.stdout.write(`MEMORY ${JSON.stringify({ rss, heapUsed, arrayBuffers })}\n`);
  }
  process.on("SIGTERM", () => {
    void started.stop().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`role process failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
