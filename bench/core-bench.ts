/**
 * End-to-end benchmark on the local broker and Redis: N workflows × 3 trivial steps through a
 * decider process and a worker process, then an open-loop phase at a fixed start rate.
 * Prints throughput, latency percentiles and each process's peak RSS. With --projector, a
 * projector process builds the read models meanwhile (in a PostgreSQL schema of its own) and
 * the benchmark samples its lag: peak, and how long it takes to reach zero after the load.
 *
 *   npm run bench -- --workflows 5000 --rate 100 --seconds 20 [--projector]
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Pool } from "pg";
import { WeftClient } from "../sdk/client";
import type { HistoryEvent } from "../schemas/types";
import { DEFAULTS, loadConfig, topics, type WeftConfig } from "../core/config";
import { createKafka } from "../adapters/kafka/client";
import { createLogger } from "../core/logger";
import { spawnRoles, type RoleProcess } from "../test/support/processes";

const { values } = parseArgs({
  options: {
    workflows: { type: "string", default: "5000" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    partitions: { type: "string", default: "4" },
    deciders: { type: "string", default: "1" },
    workers: { type: "string", default: "1" },
    projector: { type: "boolean", default: false },
  },
});

const N = Number(values.workflows);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

function stepTimes(events: readonly HistoryEvent[]) {
  const started = new Map<number, number>();
  const completed = new Map<number, number>();
  for (const e of events) {
    // When the worker began the step (its clock; the same machine's here).
    if (e.body.type === "StepStarted" && !started.has(e.body.stepSeq))
      started.set(e.body.stepSeq, e.body.startedAt);
    if (e.body.type === "StepCompleted") completed.set(e.body.stepSeq, e.at);
  }
  return { started, completed };
}

/** Samples the projector's lag (history end offsets minus offsets stored in PostgreSQL). */
class ProjectorLagProbe {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private readonly admin;

  constructor(
    private readonly config: WeftConfig,
    private readonly pool: Pool,
  ) {
    this.admin = createKafka(config, createLogger("warn")).admin();
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.timer = setInterval(() => {
      this.sampling = this.sampling
        .then(async () => void (await this.sample()))
        .catch(() => undefined);
    }, 250);
  }

  async sample(): Promise<number> {
    const topic = topics.history(this.config);
    const [ends, stored] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.pool.query<{ partition: number; next_offset: string }>(
        "SELECT partition, next_offset FROM weft_projector_offsets WHERE topic = $1",
        [topic],
      ),
    ]);
    const done = new Map(stored.rows.map((r) => [r.partition, Number(r.next_offset)]));
    this.last = ends.reduce((sum, p) => sum + Number(p.high) - (done.get(p.partition) ?? 0), 0);
    this.peak = Math.max(this.peak, this.last);
    return this.last;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
    await this.admin.disconnect();
  }
}

async function main(): Promise<void> {
  let readModels: { pool: Pool; schema: string; url: string } | undefined;
  if (values.projector) {
    const schema = `cbench_${Date.now().toString(36)}_${randomBytes(2).toString("hex")}`;
    const serverUrl = process.env.DATABASE_URL ?? DEFAULTS.databaseUrl;
    const url = new URL(serverUrl);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const pool = new Pool({ connectionString: serverUrl, max: 2 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    readModels = {
      pool: new Pool({ connectionString: url.toString(), max: 2 }),
      schema,
      url: url.toString(),
    };
    await pool.end();
  }
  const config = loadConfig({
    topicPrefix: `bench${Date.now().toString(36)}`,
    commandPartitions: Number(values.partitions),
    taskPartitions: Number(values.partitions),
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const processes: { name: string; proc: RoleProcess }[] = [];
  for (let i = 0; i < Number(values.deciders); i++) {
    processes.push({ name: `decider-${i + 1}`, proc: await spawnRoles(config, "decider") });
  }
  for (let i = 0; i < Number(values.workers); i++) {
    processes.push({
      name: `worker-${i + 1}`,
      proc: await spawnRoles(config, "worker", { WEFT_WORKER_CONCURRENCY: "256" }),
    });
  }
  let probe: ProjectorLagProbe | undefined;
  if (readModels) {
    processes.push({
      name: "projector",
      proc: await spawnRoles(config, "projector", { DATABASE_URL: readModels.url }),
    });
    probe = new ProjectorLagProbe(config, readModels.pool);
    await probe.start();
  }
  const client = await WeftClient.connect({ config, logger });

  // Phase 1: closed loop, as fast as it goes.
  const startedAt = new Map<string, number>();
  const t0 = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < N; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, N - i) }, (_, j) => {
        const sent = Date.now();
        return client.start("threeSteps", { input: { n: i + j } }).then(({ workflowId }) => {
          startedAt.set(workflowId, sent);
          return workflowId;
        });
      }),
    );
    ids.push(...batch);
  }
  const accepted = Date.now();
  await Promise.all(ids.map((id) => client.result(id, { timeoutMs: 600_000 })));
  const elapsed = (Date.now() - t0) / 1000;
  console.log(
    `throughput: ${N} workflows × 3 steps in ${elapsed.toFixed(1)} s (starts accepted in ${((accepted - t0) / 1000).toFixed(1)} s)`,
  );
  console.log(`  completed steps/s: ${Math.round((3 * N) / elapsed)}`);
  console.log(`  workflows/s:       ${Math.round(N / elapsed)}`);
  if (probe) {
    // The burst is over: how far behind is the projector, and how soon is it level?
    const burstEnded = Date.now();
    const behind = await probe.sample();
    while ((await probe.sample()) > 0 && Date.now() - burstEnded < 120_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      `  projector: peak lag ${probe.peak} history events during the burst; ${behind} behind when ` +
        `the last run completed, level ${Date.now() - burstEnded} ms later`,
    );
    probe.peak = 0;
  }

  // Phase 2: open loop at a fixed rate. The sender only produces; histories are read after
  // the load, so following history in this process does not compete with Weft for the CPU.
  await client.close();
  const sender = await WeftClient.connect({ config, logger });
  const openIds: string[] = [];
  const total = RATE * SECONDS;
  const openStart = Date.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = openStart + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = Date.now();
    sends.push(
      sender.start("threeSteps", { input: { n: i } }).then(({ workflowId }) => {
        startedAt.set(workflowId, sent);
        openIds.push(workflowId);
      }),
    );
  }
  await Promise.all(sends);
  await sender.close();
  const reader = await WeftClient.connect({ config, logger });
  await Promise.all(openIds.map((id) => reader.result(id, { timeoutMs: 120_000 })));
  if (probe) {
    const loadEnded = Date.now();
    while ((await probe.sample()) > 0 && Date.now() - loadEnded < 120_000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await probe.stop();
    console.log(
      `projector at ${RATE} starts/s: peak lag ${probe.peak} history events; ${probe.last} behind ` +
        `${Date.now() - loadEnded} ms after the last open-loop run completed`,
    );
  }
  const firstStep: number[] = [];
  const nextStep: number[] = [];
  const thirdDone: number[] = [];
  const decided: number[] = [];
  for (const id of openIds) {
    const history = await reader.getHistory(id);
    const { started, completed } = stepTimes(history);
    const sent = startedAt.get(id)!;
    decided.push(history[0]!.at - sent);
    firstStep.push(started.get(1)! - sent);
    nextStep.push(started.get(2)! - completed.get(1)!, started.get(3)! - completed.get(2)!);
    thirdDone.push(completed.get(3)! - sent);
  }
  for (const list of [firstStep, nextStep, thirdDone, decided]) list.sort((a, b) => a - b);
  console.log(`open loop: ${total} workflows at ${RATE} starts/s`);
  console.log(
    `  start→decided           p50 ${percentile(decided, 50)} ms  p99 ${percentile(decided, 99)} ms`,
  );
  console.log(
    `  start→first-step        p50 ${percentile(firstStep, 50)} ms  p99 ${percentile(firstStep, 99)} ms`,
  );
  console.log(
    `  step→next-step          p50 ${percentile(nextStep, 50)} ms  p99 ${percentile(nextStep, 99)} ms`,
  );
  console.log(
    `  start→third-step-done   p50 ${percentile(thirdDone, 50)} ms  p99 ${percentile(thirdDone, 99)} ms`,
  );

  console.log("peak RSS:");
  for (const { name, proc } of processes)
    console.log(`  ${name.padEnd(12)} ${peakRssMb(proc.pid)} MB`);
  console.log(
    `  ${"bench client".padEnd(12)} ${peakRssMb(process.pid)} MB (holds every history in memory)`,
  );

  await reader.close();
  await Promise.all(processes.map(({ proc }) => proc.stop()));
  if (readModels) {
    await readModels.pool.query(`DROP SCHEMA ${readModels.schema} CASCADE`);
    await readModels.pool.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
