/**
 * One round of one target, in a process of its own so that the client side's CPU and memory
 * are the target's alone: sets the target up, runs the burst and the steady phase, and prints
 * `RESULT <json>` (a RoundResult). Started by bench/peers-bench.ts.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { bullmqChain } from "./bullmq-chain";
import { percentiles, type RoundResult, type Target } from "./measure";
import { ProcessSampler, type Watched } from "./process-stats";
import { weftEmbedded, weftOnKafka } from "./weft-target";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    round: { type: "string", default: "1" },
    burst: { type: "string", default: "5000" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    concurrency: { type: "string", default: "256" },
    partitions: { type: "string", default: "4" },
    processes: { type: "string", default: "1" },
    "bullmq-url": { type: "string" },
    /** name=pid,…: long-lived processes this target uses (the broker, redis-server). */
    shared: { type: "string", default: "" },
  },
});

/** Starts that may be outstanding at once in the burst, as bench/core-bench.ts sends them. */
const BURST_BATCH = 500;

function shared(): Watched[] {
  return values.shared
    .split(",")
    .filter(Boolean)
    .map((entry) => {
      const [name, pid] = entry.split("=");
      return { name: name!, pid: Number(pid), fresh: false };
    });
}

async function setUp(): Promise<Target> {
  const concurrency = Number(values.concurrency);
  const partitions = Number(values.partitions);
  const processes = Number(values.processes);
  switch (values.target) {
    case "weft-kafka":
      return weftOnKafka({ partitions, concurrency, shared: shared(), processes });
    case "weft-kafka-split":
      return weftOnKafka({ partitions, concurrency, shared: shared(), split: true });
    case "weft-kafka-kafkajs":
      return weftOnKafka({ partitions, concurrency, shared: shared(), kafkajsCommit: true });
    case "weft-kafka-txv1":
      return weftOnKafka({ partitions, concurrency, shared: shared(), transactionV1: true });
    case "weft-embedded":
      return weftEmbedded({ partitions, concurrency });
    case "bullmq":
      if (!values["bullmq-url"]) throw new Error("--bullmq-url is required");
      return bullmqChain({ url: values["bullmq-url"], concurrency, shared: shared(), processes });
    default:
      throw new Error(`unknown target ${values.target}`);
  }
}

async function main(): Promise<void> {
  const target = await setUp();
  try {
    process.stdout.write(`RESULT ${JSON.stringify(await measure(target))}\n`);
  } finally {
    // Stops the target's child processes on failure too, so none outlives the round.
    await target.close();
  }
}

async function measure(target: Target): Promise<RoundResult> {
  const N = Number(values.burst);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const sampler = new ProcessSampler([
    { name: "bench client", pid: process.pid, fresh: true },
    ...target.watched,
  ]);
  const loadStart = loadavg();
  sampler.start();

  // Burst: N starts, BURST_BATCH at a time, then wait until every run completed.
  const t0 = performance.now();
  const burstIds: string[] = [];
  for (let i = 0; i < N; i += BURST_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BURST_BATCH, N - i) }, (_, j) => target.start(i + j)),
    );
    burstIds.push(...batch.map((b) => b.id));
  }
  await target.waitDone(burstIds);
  const burstSeconds = (performance.now() - t0) / 1000;

  // Steady: starts at a fixed rate (open loop: a slow start does not delay the next one).
  await target.beforeSteady();
  const sentAt = new Map<string, number>();
  const total = Math.round(rate * seconds);
  const openStart = Date.now();
  const sends: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const wait = openStart + (k * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sends.push(target.start(N + k).then(({ id, sent }) => void sentAt.set(id, sent)));
  }
  await Promise.all(sends);
  await target.waitDone([...sentAt.keys()]);
  const processes = sampler.stop();
  const loadEnd = loadavg();

  const { runs, hops } = await target.timings(sentAt);
  if (runs.length !== total) throw new Error(`timings of ${runs.length} runs, ${total} expected`);
  const nextStep = percentiles(runs.flatMap((r) => r.nextSteps));
  // A step time that no record gave would make the percentiles quietly of fewer runs.
  if (nextStep.n !== 2 * total) throw new Error(`${2 * total - nextStep.n} step times missing`);
  return {
    target: target.name,
    round: Number(values.round),
    loadStart,
    loadEnd,
    burst: { workflows: N, seconds: burstSeconds, stepsPerSecond: (3 * N) / burstSeconds },
    steady: {
      runs: total,
      rate,
      seconds,
      firstStep: percentiles(runs.map((r) => r.firstStep)),
      nextStep,
      thirdDone: percentiles(runs.map((r) => r.thirdDone)),
      ...(hops
        ? {
            hops: Object.fromEntries(
              Object.entries(hops).map(([hop, samples]) => [
                hop,
                Array.isArray(samples) ? percentiles(samples) : samples,
              ]),
            ),
          }
        : {}),
    },
    processes,
  };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`peers driver failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
