/**
 * The BullMQ chain's worker process: a Worker on the chain's queue with the benchmark's
 * concurrency (BENCH_CONCURRENCY), on BENCH_REDIS_URL. Prints READY once connected; SIGTERM
 * closes it.
 */
import { Queue, Worker } from "bullmq";
import { chainProcessor, connection, QUEUE, type ChainData } from "./bullmq-chain";

async function main(): Promise<void> {
  const url = process.env.BENCH_REDIS_URL;
  if (!url) throw new Error("BENCH_REDIS_URL is not set");
  const queue = new Queue<ChainData>(QUEUE, { connection: connection(url) });
  const worker = new Worker<ChainData>(QUEUE, chainProcessor(queue), {
    connection: connection(url),
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 256),
  });
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  process.stdout.write(`READY ${process.pid}\n`);
  process.once("SIGTERM", () => {
    void Promise.all([worker.close(), queue.close()]).then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bullmq worker failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
