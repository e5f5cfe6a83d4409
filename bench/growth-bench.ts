/**
 * Growth over a long life: what a decider restart costs as closed runs pile up. Batches of
 * real 3-step runs (threeSteps) finish through a decider process and a worker process; after
 * each batch the decider is killed (SIGKILL) and started again, and the benchmark prints, for
 * that many closed runs: restore time per partition and what it read, the decider's RSS once
 * ready, and restart → a new run completed. Then --sleeping runs that wait (a durable timer,
 * an hour) measure decider memory per open sleeping run across one more restart.
 *
 *   npm run bench:growth -- [--sizes 5000,10000,20000,40000] [--sleeping 20000]
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig, topics } from "../core/config";
import { createLogger } from "../core/logger";
import { WeftClient } from "../sdk/client";
import { createKafka } from "../adapters/kafka/client";
import { spawnRoles, type RoleProcess } from "../test/support/processes";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "5000,10000,20000,40000" },
    sleeping: { type: "string", default: "20000" },
    partitions: { type: "string", default: "4" },
    inflight: { type: "string", default: "400" },
  },
});

const SIZES = values.sizes.split(",").map(Number);
const SLEEPING = Number(values.sleeping);
const INFLIGHT = Number(values.inflight);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface Restored {
  partition: number;
  /** From the open's start to the state restored: fencing, then the read. */
  ms: number;
  /** Of which fencing the previous owner (the producer's InitProducerId). */
  fencedMs: number;
  records: number;
  from: string;
  openRuns: number;
  closedRuns: number;
}

/** The decider's "partition restored" lines, as it logged them. */
function restoredLines(output: string): Restored[] {
  const out: Restored[] = [];
  for (const line of output.split("\n")) {
    if (!line.includes('"partition restored"')) continue;
    // Older deciders logged `events` (all read from history) and `ms` (the restore alone).
    const j = JSON.parse(line) as Restored & { restoredMs?: number; events?: number };
    out.push({
      ...j,
      fencedMs: j.fencedMs ?? 0,
      ms: j.restoredMs ?? j.ms,
      records: j.records ?? j.events ?? 0,
      from: j.from ?? "history",
      closedRuns: j.closedRuns ?? 0,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const config = loadConfig({
    topicPrefix: `growth${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
    commandPartitions: Number(values.partitions),
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const kafka = createKafka(config, logger);
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  const deciderEnv = {
    WEFT_LOG_LEVEL: "info",
    WEFT_REPORT_MEMORY: "1",
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --expose-gc`,
  };
  let decider: RoleProcess = await spawnRoles(config, "decider", deciderEnv);
  const worker = await spawnRoles(config, "worker");

  // Closed runs, counted from history as they complete.
  let completed = 0;
  let sleeping = 0;
  const watch = kafka.consumer({
    groupId: `${config.topicPrefix}.growth-watch`,
    maxWaitTimeInMs: 50,
  });
  await watch.connect();
  await watch.subscribe({ topic: topics.history(config), fromBeginning: true });
  await watch.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const event = m.headers?.["weft-event"]?.toString();
        if (event === "WorkflowCompleted") completed++;
        else if (event === "TimerStarted") sleeping++;
      }
      await Promise.resolve();
    },
  });
  const until = async (what: string, done: () => boolean, limitMs = 1_800_000) => {
    const deadline = Date.now() + limitMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  let started = 0;
  /** Starts `n` more runs of `type`, at most INFLIGHT unfinished at a time. */
  const startRuns = async (n: number, input: (i: number) => unknown) => {
    const target = started + n;
    while (started < target) {
      await until("runs to finish", () => started - completed < INFLIGHT);
      const batch = Math.min(100, target - started);
      await Promise.all(
        Array.from({ length: batch }, () =>
          client.start("threeSteps", { input: input(started++) }),
        ),
      );
    }
  };

  const restart = async () => {
    await decider.kill9();
    const at = Date.now();
    decider = await spawnRoles(config, "decider", deciderEnv);
    const readyMs = Date.now() - at;
    const rss = rssMb(decider.pid);
    const child = decider;
    await until("the decider's memory report", () => child.output().includes("MEMORY "));
    const report = /MEMORY (\{.*\})/.exec(child.output())![1]!;
    const {
      heapUsed,
      arrayBuffers,
      rss: rssAfterGc,
    } = JSON.parse(report) as Record<string, number>;
    const heapMb = (heapUsed! + arrayBuffers!) / 1048576;
    const before = completed;
    await client.start("threeSteps", { input: { n: 0 } });
    started++;
    await until("a new run", () => completed > before);
    return {
      readyMs,
      firstRunMs: Date.now() - at,
      rss,
      rssAfterGcMb: rssAfterGc! / 1048576,
      heapMb,
      restored: restoredLines(decider.output()),
    };
  };

  const rows: string[] = [];
  process.stdout.write(
    `growth: ${config.commandPartitions} partitions, sizes ${SIZES.join(", ")}, load ${load()}\n`,
  );
  for (const size of SIZES) {
    const t0 = Date.now();
    await startRuns(size - started, (i) => ({ n: i }));
    await until(`${size} closed runs`, () => completed >= started);
    const seconds = (Date.now() - t0) / 1000;
    const r = await restart();
    const maxMs = Math.max(...r.restored.map((p) => p.ms));
    const records = r.restored.reduce((n, p) => n + p.records, 0);
    const line =
      `${String(completed).padStart(7)} closed runs: restore per partition max ${maxMs} ms ` +
      `(${r.restored.map((p) => p.ms).join("/")} ms, of which fencing ${r.restored.map((p) => p.fencedMs).join("/")} ms; ${records} records from ${[...new Set(r.restored.map((p) => p.from))].join("+")}), ` +
      `decider RSS ${r.rss.toFixed(0)} MB once ready, ${r.rssAfterGcMb.toFixed(0)} MB after a full GC (heap after GC ${r.heapMb.toFixed(1)} MB), restart → ready ${r.readyMs} ms, → a new run completed ${r.firstRunMs} ms ` +
      `[batch took ${seconds.toFixed(0)} s, load ${load()}]`;
    rows.push(line);
    process.stdout.write(line + "\n");
  }

  if (SLEEPING > 0) {
    const base = await restart();
    const t0 = Date.now();
    for (let i = 0; i < SLEEPING; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, SLEEPING - i) }, (_, k) =>
          client.start("sleepy", { input: { ms: 3_600_000, n: i + k } }),
        ),
      );
    }
    // Each sleeping run runs its first step, then its timer starts: restart once all sleep.
    await until(`${SLEEPING} runs asleep`, () => sleeping >= SLEEPING);
    const r = await restart();
    const open = r.restored.reduce((n, p) => n + p.openRuns, 0);
    const perRunKb = ((r.heapMb - base.heapMb) * 1024) / Math.max(1, open);
    const line =
      `${open} open sleeping runs (+${completed} closed): decider heap after GC ${r.heapMb.toFixed(1)} MB vs ${base.heapMb.toFixed(1)} MB without them → ` +
      `${perRunKb.toFixed(2)} KB per sleeping run (RSS ${r.rss.toFixed(0)} vs ${base.rss.toFixed(0)} MB); restore max ${Math.max(...r.restored.map((p) => p.ms))} ms ` +
      `[started in ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load()}]`;
    rows.push(line);
    process.stdout.write(line + "\n");
  }

  process.stdout.write(`\n${rows.join("\n")}\nload average (1/5/15 min) at the end: ${load()}\n`);
  await watch.disconnect();
  await client.close();
  await Promise.all([decider, worker].map((p) => p.kill9()));
}

main().catch((err: unknown) => {
  process.stderr.write(`growth bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
