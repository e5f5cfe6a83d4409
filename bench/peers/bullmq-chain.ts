/**
 * BullMQ's 3-step job chain as a target of the side-by-side benchmark: one queue, a worker
 * process (bench/peers/bullmq-worker.ts) whose processor for step k adds the job of step
 * k + 1 before it returns, as an application chains jobs with BullMQ. Redis runs with
 * AOF everysec (started by the benchmark), so an acknowledged job survives a crash of the
 * server but the last second of writes may not.
 */
import { Queue, type Job } from "bullmq";
import Redis from "ioredis";
import { spawnScript, untilPrinted } from "./children";
import type { RunTiming, Target } from "./measure";
import type { Watched } from "./process-stats";

export const QUEUE = "weft-peers-chain";
export const STEPS = 3;

export interface ChainData {
  run: string;
  /** When the benchmark sent the start (its clock). */
  sent: number;
  n: number;
  /** Each step's begin and end on the worker, in order: the chain's own record of its times. */
  t: number[];
}

/** Where BullMQ connects: ioredis options from a redis:// URL. */
export function connection(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * The processor: the same trivial work as Weft's `echo` step, then the next step's job.
 * The last step returns every step's times, which the benchmark reads once the load is over.
 */
export function chainProcessor(queue: Queue<ChainData>) {
  return async (job: Job<ChainData>): Promise<{ t: number[] } | null> => {
    const started = Date.now();
    const step = Number(job.name.slice("step".length));
    const n = job.data.n + 1;
    const t = [...job.data.t, started, Date.now()];
    if (step < STEPS) {
      await queue.add(`step${step + 1}`, { ...job.data, n, t });
      return null;
    }
    return { t };
  };
}

export interface BullmqOptions {
  url: string;
  concurrency: number;
  /** The redis-server's pid, watched beside the worker. */
  shared: Watched[];
  /** Worker processes (default 1). */
  processes?: number;
}

export async function bullmqChain(options: BullmqOptions): Promise<Target> {
  // Each round begins on an empty server (the benchmark's own, never the shared one).
  const admin = new Redis(options.url);
  await admin.flushall();
  await admin.quit();
  const queue = new Queue<ChainData>(QUEUE, { connection: connection(options.url) });
  await queue.waitUntilReady();
  const count = options.processes ?? 1;
  const workers = Array.from({ length: count }, () =>
    spawnScript("bullmq-worker", [], {
      BENCH_REDIS_URL: options.url,
      BENCH_CONCURRENCY: String(options.concurrency),
    }),
  );
  await Promise.all(workers.map((w) => untilPrinted(w, "READY", 30_000)));
  let expected = 0;
  return {
    // The peer the ratios are taken against, whatever its worker count (the banner says it).
    name: "bullmq",
    watched: [
      ...workers.map((w, i) => ({
        name: count > 1 ? `bullmq worker ${i + 1}` : "bullmq worker",
        pid: w.pid,
        fresh: true,
      })),
      ...options.shared,
    ],
    async start(i) {
      const sent = Date.now();
      const run = `r${i}`;
      await queue.add("step1", { run, sent, n: i, t: [] });
      return { id: run, sent };
    },
    async waitDone(ids) {
      // Completed jobs are kept (BullMQ's default): the count is cheap to poll.
      expected += ids.length * STEPS;
      const deadline = Date.now() + 600_000;
      for (;;) {
        const counts = await queue.getJobCounts("completed", "failed");
        if ((counts.failed ?? 0) > 0) throw new Error(`${counts.failed} BullMQ jobs failed`);
        if ((counts.completed ?? 0) >= expected) return;
        if (Date.now() > deadline) throw new Error("BullMQ chain did not finish in 600 s");
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async beforeSteady() {},
    async timings(sentAt) {
      const runs: RunTiming[] = [];
      for (let start = 0; ; start += 1000) {
        const page = (await queue.getJobs(["completed"], start, start + 999, true)) as Job<
          ChainData,
          { t: number[] } | null
        >[];
        for (const job of page) {
          if (job.name !== `step${STEPS}` || !sentAt.has(job.data.run)) continue;
          const t = job.returnvalue?.t ?? [];
          runs.push({
            firstStep: t[0]! - job.data.sent,
            nextSteps: [t[2]! - t[1]!, t[4]! - t[3]!],
            thirdDone: (job.finishedOn ?? NaN) - job.data.sent,
          });
        }
        if (page.length < 1000) break;
      }
      return { runs };
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await queue.close();
    },
  };
}
