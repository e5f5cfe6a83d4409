/**
 * Embedded log benchmark, all in this process, no Kafka and no Redis:
 *  1. single-record transactions (record + consumed offset, one commit each), per sync mode;
 *  2. startEmbedded (decider and worker, leases in memory) on an empty directory: cold start
 *     to ready, then N threeSteps runs (steps/s); with `--db sqlite:<file>` (a fresh file) the
 *     projector and the API run too, and the runs count as done once the read models show them
 *     completed;
 *  3. the time to open a log of 100k records.
 * Each part runs in a process of its own, which reports its peak RSS.
 *
 *   npx tsx bench/embedded-log-bench.ts [--workflows 2000] [--records 100000] [--transactions 20000]
 *                                       [--db sqlite:/tmp/weft-embedded.db]
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, topics } from "../core/config";
import { createLogger } from "../core/logger";
import { openReadModelDb } from "../projections/read-model-db";
import { startEmbedded } from "../sdk/embedded";
import { HistoryTail } from "../transport/history-tail";
import { EmbeddedKafka, type SyncMode } from "../adapters/embedded";
import { echo, threeSteps } from "../test/fixtures/workflows";

const { values } = parseArgs({
  options: {
    workflows: { type: "string", default: "2000" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "10" },
    records: { type: "string", default: "100000" },
    transactions: { type: "string", default: "20000" },
    only: { type: "string" },
    db: { type: "string" },
  },
});

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const rssMb = () => mb(process.memoryUsage().rss);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
/** With every module loaded (through tsx when run from sources): what the part adds is above. */
const startRssMb = rssMb();

function scratch(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "weft-embedded-bench-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

async function transactions(sync: SyncMode, count: number): Promise<number> {
  const { dir, done } = scratch();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync });
  await kafka.admin().createTopics({
    topics: [
      { topic: "history", numPartitions: 4 },
      { topic: "commands", numPartitions: 4 },
    ],
  });
  const producer = kafka.producer({ transactionalId: "bench" });
  await producer.connect();
  const value = randomBytes(200);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const tx = await producer.transaction();
    await tx.send({ topic: "history", messages: [{ key: `run-${i}`, value, partition: i % 4 }] });
    await tx.sendOffsets({
      consumerGroupId: "deciders",
      topics: [{ topic: "commands", partitions: [{ partition: i % 4, offset: String(i + 1) }] }],
    });
    await tx.commit();
  }
  const seconds = (performance.now() - started) / 1000;
  await kafka.close();
  done();
  return count / seconds;
}

async function workflowsThroughput(n: number): Promise<{
  stepsPerSecond: number;
  ms: number;
  readyMs: number;
  sinceProcessStartMs: number;
  firstStep: { p50: number; p99: number; count: number };
}> {
  const { dir, done } = scratch();
  const config = loadConfig({
    topicPrefix: `bench${Date.now().toString(36)}${randomBytes(3).toString("hex")}`,
    logLevel: "warn",
    ...(values.db ? { databaseUrl: values.db } : {}),
  });
  const logger = createLogger(config.logLevel);
  if (values.db) {
    const file = values.db.replace(/^sqlite:/, "");
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
  }
  const opening = performance.now();
  const weft = await startEmbedded({
    dir,
    workflows: [threeSteps],
    steps: [echo],
    database: values.db ? (options) => openReadModelDb(config, logger, options) : false,
    api: values.db ? { port: 0 } : false,
    config,
    logger,
    worker: { concurrency: 64 },
  });
  const client = await weft.connectClient();
  const readyMs = performance.now() - opening;
  // performance.now() counts from the process's start: module loading included.
  const sinceProcessStartMs = performance.now();
  const history = new HistoryTail(weft.backends.transport, topics.history(config), logger);
  await history.start();

  const started = performance.now();
  const ids = await Promise.all(
    Array.from(
      { length: n },
      async (_, i) => (await client.start(threeSteps, { input: { n: i } })).workflowId,
    ),
  );
  const closed = (id: string) => history.events(id).at(-1)?.body.type === "WorkflowCompleted";
  while (!ids.every(closed)) await new Promise((r) => setTimeout(r, 5));
  if (values.db) {
    // Through every role: done once the read models show every run completed.
    const db = openReadModelDb(config, logger);
    try {
      for (;;) {
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*) AS n FROM weft_runs WHERE status = 'completed'",
        );
        if (Number(rows[0]!.n) >= n) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await db.close();
    }
  }
  const ms = performance.now() - started;

  // Open loop: starts at a fixed rate; start → the first step begins on the worker.
  const rate = Number(values.rate);
  const total = rate * Number(values.seconds);
  const sentAt = new Map<string, number>();
  const openStart = Date.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = openStart + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = Date.now();
    sends.push(
      client.start(threeSteps, { input: { n: i } }).then(({ workflowId }) => {
        sentAt.set(workflowId, sent);
      }),
    );
  }
  await Promise.all(sends);
  const openIds = [...sentAt.keys()];
  while (!openIds.every(closed)) await new Promise((r) => setTimeout(r, 5));
  const firstSteps = openIds
    .map((id) => {
      const started = history.events(id).find((e) => e.body.type === "StepStarted");
      return started?.body.type === "StepStarted" ? started.body.startedAt - sentAt.get(id)! : NaN;
    })
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    firstSteps[Math.min(firstSteps.length - 1, Math.floor((p / 100) * firstSteps.length))]!;

  await history.close();
  await client.close();
  await weft.stop();
  done();
  return {
    stepsPerSecond: (n * 3) / (ms / 1000),
    ms,
    readyMs,
    sinceProcessStartMs,
    firstStep: { p50: pct(50), p99: pct(99), count: firstSteps.length },
  };
}

async function openTime(
  records: number,
): Promise<{ ms: number; fileMb: number; rssDeltaMb: number }> {
  const { dir, done } = scratch();
  let kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  await kafka.admin().createTopics({ topics: [{ topic: "history", numPartitions: 4 }] });
  const producer = kafka.producer();
  await producer.connect();
  const value = randomBytes(200);
  for (let i = 0; i < records; i += 100) {
    await producer.send({
      topic: "history",
      messages: Array.from({ length: 100 }, (_, k) => ({
        key: `run-${i + k}`,
        value,
        partition: (i + k) % 4,
        headers: { "weft-schema": "weft.HistoryEvent", "weft-event": "StepCompleted" },
      })),
    });
  }
  const fileMb = mb(kafka.log.bytes);
  await kafka.close();
  global.gc?.();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  kafka = await EmbeddedKafka.open({ directory: dir });
  const ms = performance.now() - started;
  const rssDeltaMb = mb(process.memoryUsage().rss - before);
  if (kafka.log.records !== records) throw new Error(`reopened ${kafka.log.records} records`);
  await kafka.close();
  done();
  return { ms, fileMb, rssDeltaMb };
}

const PARTS: Record<string, () => Promise<string[]>> = {
  async transactions() {
    const count = Number(values.transactions);
    const lines: string[] = [];
    for (const sync of ["never", "interval", "always"] as const) {
      const n = sync === "always" ? Math.min(count, 2000) : count;
      const rate = Math.round(await transactions(sync, n));
      lines.push(`single-record transactions, sync ${sync}: ${rate}/s (${n} transactions)`);
    }
    return lines;
  },
  async workflows() {
    const n = Number(values.workflows);
    const run = await workflowsThroughput(n);
    return [
      `startEmbedded on an empty directory to ready (decider, worker, client): ${Math.round(run.readyMs)} ms; ${Math.round(run.sinceProcessStartMs)} ms from the process's start, module loading included`,
      `threeSteps through decider + worker${values.db ? ` + projector (${values.db}) + api` : ""}: ${Math.round(run.stepsPerSecond)} steps/s (${n} runs × 3 steps in ${Math.round(run.ms)} ms)`,
      `open loop, ${values.rate} starts/s for ${values.seconds} s: start → first step begins p50 ${run.firstStep.p50} ms, p99 ${run.firstStep.p99} ms (${run.firstStep.count} runs)`,
    ];
  },
  async open() {
    const records = Number(values.records);
    const open = await openTime(records);
    return [
      `open with ${records} records: ${Math.round(open.ms)} ms (file ${open.fileMb} MB, RSS +${open.rssDeltaMb} MB after opening)`,
    ];
  },
};

async function main(): Promise<void> {
  if (values.only) {
    const lines = await PARTS[values.only]!();
    lines.push(
      `  RSS of this part's process: ${startRssMb} MB with modules loaded, peak ${peakRssMb()} MB`,
    );
    console.log(lines.join("\n"));
    return;
  }
  for (const part of Object.keys(PARTS)) {
    const args = process.argv.slice(2).filter((a) => !a.startsWith("--only"));
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, ...args, "--only", part],
      { stdio: "inherit" },
    );
    if (child.status !== 0) throw new Error(`part ${part} failed`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
