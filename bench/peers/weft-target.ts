/**
 * Weft as a target of the side-by-side benchmark, on Kafka (decider and worker in one process,
 * as `weft start` runs them, or, split, a decider process and a worker process as
 * bench/core-bench.ts starts them) or embedded (decider and worker in the driver's process, on
 * a log in a temporary folder). The workflow is the fixtures' `threeStamped`: three steps in a
 * row, each returning its input and the worker's clock as it returns.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, topics, type WeftConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { commandCodec } from "../../schemas/codec";
import type { HistoryEvent } from "../../schemas/types";
import { WeftClient } from "../../sdk/client";
import { startEmbedded } from "../../sdk/embedded";
import { createKafka } from "../../adapters/kafka/client";
import { topicReader } from "../../transport/topic-reader";
import type { KafkaPort } from "../../transport/port";
import { stamped, threeStamped } from "../../test/fixtures/workflows";
import {
  addUp,
  COMMIT_HOP,
  freePort,
  percentilesBetween,
  scrape,
  type Buckets,
} from "./metric-hops";
import { spawnRoles, type RoleProcess } from "../../test/support/processes";
import { deleteTopicsOf } from "../../test/support/topic-cleanup";
import type { Hops, RunTiming, Target } from "./measure";
import type { Watched } from "./process-stats";

export interface WeftOptions {
  partitions: number;
  concurrency: number;
  /** The broker's and Redis's pids (Kafka mode), watched beside Weft's own processes. */
  shared?: Watched[];
  /** Kafka mode: the decider and the worker in two processes (no local dispatch). */
  split?: boolean;
  /**
   * Kafka mode, not split: this many decider and worker processes (default 1), sharing the
   * partitions as `weft start --processes N` does.
   */
  processes?: number;
  /** Kafka mode: deciders commit with kafkajs's producer (WEFT_PIPELINED_COMMIT=0). */
  kafkajsCommit?: boolean;
  /** The deciders' pipelined producer on Kafka's first transaction protocol, not the second. */
  transactionV1?: boolean;
}

const logger = createLogger("warn");

function benchConfig(partitions: number): WeftConfig {
  return loadConfig({
    topicPrefix: `peers${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
    commandPartitions: partitions,
    taskPartitions: partitions,
    logLevel: "warn",
  });
}

/** Hops read from the roles' histograms (metric-hops.ts): Weft on Kafka only. */
const COMMAND_WAIT = "command produced → decided on (decider fetch, queue, linger)";
const TASK_TO_START = "task written → step started (worker fetch, lease)";

/** The hops each role's histograms give. */
const DECIDER_HOPS = {
  [COMMAND_WAIT]: "weft_decider_command_wait_seconds",
  [COMMIT_HOP]: "weft_decider_commit_seconds",
};
const WORKER_HOPS = { [TASK_TO_START]: "weft_step_schedule_to_start_seconds" };

/**
 * Weft on Kafka: the roles in child processes, the client in the driver. By default decider
 * and worker share one process, as `weft start` runs them (the worker takes the tasks its
 * decider commits at once and reports to it directly, config.localDispatch); split, they are
 * two processes that talk through Kafka only.
 */
export async function weftOnKafka(options: WeftOptions): Promise<Target> {
  const config = benchConfig(options.partitions);
  const workerEnv = { WEFT_WORKER_CONCURRENCY: String(options.concurrency) };
  const deciderEnv: Record<string, string> = {
    ...(options.kafkajsCommit ? { WEFT_PIPELINED_COMMIT: "0" } : {}),
    ...(options.transactionV1 ? { WEFT_KAFKA_TRANSACTION_VERSION: "1" } : {}),
  };
  const layout = options.split
    ? [
        { name: "decider", roles: "decider", env: deciderEnv, hops: DECIDER_HOPS },
        { name: "worker", roles: "worker", env: workerEnv, hops: WORKER_HOPS },
      ]
    : Array.from({ length: options.processes ?? 1 }, (_, i) => ({
        name: (options.processes ?? 1) > 1 ? `decider + worker ${i + 1}` : "decider + worker",
        roles: "decider,worker",
        env: { ...workerEnv, ...deciderEnv },
        hops: { ...DECIDER_HOPS, ...WORKER_HOPS },
      }));
  const processes: {
    name: string;
    hops: Record<string, string>;
    child: RoleProcess;
    url: string;
  }[] = [];
  for (const { roles, env, ...rest } of layout) {
    const port = await freePort();
    const child = await spawnRoles(config, roles, { ...env, WEFT_METRICS_PORT: String(port) });
    processes.push({ ...rest, child, url: `http://127.0.0.1:${port}/metrics` });
  }
  const kafka = createKafka(config, logger);
  return weftTarget({
    name: `weft-kafka${options.split ? "-split" : ""}${options.kafkajsCommit ? "-kafkajs" : ""}${options.transactionV1 ? "-txv1" : ""}${(options.processes ?? 1) > 1 ? `-x${options.processes}` : ""}`,
    config,
    transport: kafka,
    connect: () => WeftClient.connect({ config, logger, transport: kafka }),
    metrics: processes.map(({ url, hops }) => ({ url, hops })),
    watched: [
      ...processes.map(({ name, child }) => ({ name, pid: child.pid, fresh: true })),
      ...(options.shared ?? []),
    ],
    stop: async () => {
      await Promise.all(processes.map(({ child }) => child.stop()));
      // Each round's partitions would stay on the broker's heap for every round after it.
      await deleteTopicsOf(kafka, [config.topicPrefix]);
    },
  });
}

/** Embedded Weft: every role in the driver's process, on the embedded log (sync "interval"). */
export async function weftEmbedded(options: WeftOptions): Promise<Target> {
  const config = benchConfig(options.partitions);
  const dir = mkdtempSync(join(tmpdir(), "weft-peers-embedded-"));
  const weft = await startEmbedded({
    dir,
    workflows: [threeStamped],
    steps: [stamped],
    database: false,
    config,
    logger,
    worker: { concurrency: options.concurrency },
  });
  return weftTarget({
    name: "weft-embedded",
    config,
    transport: weft.backends.transport,
    connect: () => weft.connectClient(),
    watched: [],
    stop: async () => {
      await weft.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

interface MetricSource {
  url: string;
  /** Hop name → histogram name. */
  hops: Record<string, string>;
}

interface Setup {
  name: string;
  /** Where the roles serve their histograms; absent: those hops are not recorded. */
  metrics?: MetricSource[];
  config: WeftConfig;
  transport: KafkaPort;
  connect(): Promise<WeftClient>;
  watched: Watched[];
  stop(): Promise<void>;
}

async function weftTarget(setup: Setup): Promise<Target> {
  let client = await setup.connect();
  const sources = setup.metrics ?? [];
  // Several processes serve the same histograms (a decider and worker each): added up.
  const scrapeAll = async () =>
    addUp(await Promise.all(sources.map((s) => scrape(s.url, Object.values(s.hops)))));
  let beforeSteady = new Map<string, Buckets>();
  return {
    name: setup.name,
    watched: setup.watched,
    async start(i) {
      const sent = Date.now();
      const { workflowId } = await client.start(threeStamped, { input: { n: i } });
      return { id: workflowId, sent };
    },
    async waitDone(ids) {
      await Promise.all(ids.map((id) => client.result(id, { timeoutMs: 600_000 })));
    },
    async beforeSteady() {
      // As bench/core-bench.ts: during the steady phase the client only produces; a fresh
      // client follows history only once the load is over, so that reading every event does
      // not compete with Weft for the CPU while latencies are taken.
      await client.close();
      client = await setup.connect();
      beforeSteady = await scrapeAll();
    },
    async timings(sentAt) {
      const reports = await readCommands(setup.transport, setup.config, sentAt);
      const runs: RunTiming[] = [];
      const hops: Hops = {
        "start command produced → WorkflowStarted recorded": [],
        "WorkflowStarted recorded → step 1 started": [],
        "step started → step returned": [],
        "step returned → StepCompleted recorded": [],
        "StepCompleted recorded → next step started": [],
        // No record carries these times: read from the roles' histograms where served.
        [COMMAND_WAIT]: null,
        [COMMIT_HOP]: null,
        [TASK_TO_START]: null,
      };
      const after = await scrapeAll();
      for (const source of sources) {
        for (const [hop, metric] of Object.entries(source.hops))
          hops[hop] = percentilesBetween(beforeSteady.get(metric), after.get(metric)!);
      }
      const push = (hop: string, ms: number) => (hops[hop] as number[]).push(ms);
      for (const [id, sent] of sentAt) {
        const t = runTimes(await client.getHistory(id));
        const r = reports.get(id);
        // The step's end: the worker's clock as its handler returned (in its result), whether
        // its report went through weft.commands or straight to the decider beside it.
        const reported = (seq: number) => t.ended(seq);
        runs.push({
          firstStep: t.started(1) - sent,
          // The worker's report of step k's end (its clock) → the next step began.
          nextSteps: [1, 2].map((k) => t.started(k + 1) - reported(k)),
          thirdDone: t.completed(3) - sent,
        });
        push(
          "start command produced → WorkflowStarted recorded",
          t.workflowStarted - (r?.start ?? NaN),
        );
        push("WorkflowStarted recorded → step 1 started", t.started(1) - t.workflowStarted);
        for (const k of [1, 2, 3]) {
          push("step started → step returned", reported(k) - t.started(k));
          push("step returned → StepCompleted recorded", t.completed(k) - reported(k));
          if (k < 3)
            push("StepCompleted recorded → next step started", t.started(k + 1) - t.completed(k));
        }
      }
      return { runs, hops };
    },
    async close() {
      await client.close();
      await setup.stop();
    },
  };
}

/** The times a run's history records: `at` is the decider's clock, `startedAt` the worker's. */
function runTimes(events: readonly HistoryEvent[]) {
  const started = new Map<number, number>();
  const completed = new Map<number, number>();
  const ended = new Map<number, number>();
  let workflowStarted = NaN;
  for (const e of events) {
    if (e.body.type === "WorkflowStarted") workflowStarted = e.at;
    if (e.body.type === "StepStarted" && !started.has(e.body.stepSeq))
      started.set(e.body.stepSeq, e.body.startedAt);
    if (e.body.type === "StepCompleted") {
      completed.set(e.body.stepSeq, e.at);
      ended.set(e.body.stepSeq, (JSON.parse(e.body.result) as { endedAt: number }).endedAt);
    }
  }
  return {
    workflowStarted,
    started: (seq: number) => started.get(seq) ?? NaN,
    completed: (seq: number) => completed.get(seq) ?? NaN,
    ended: (seq: number) => ended.get(seq) ?? NaN,
  };
}

interface RunCommands {
  /** The start command's `sentAt` (the client's clock when it produced it). */
  start: number;
}

/**
 * Reads the commands topic from the beginning, once, after the load: each start command's
 * envelope carries `sentAt`, the only record of when the client produced it. Nothing in the
 * engine changes for it.
 */
async function readCommands(
  kafka: KafkaPort,
  config: WeftConfig,
  wanted: ReadonlyMap<string, number>,
): Promise<Map<string, RunCommands>> {
  const topic = topics.commands(config);
  const admin = kafka.admin();
  await admin.connect();
  const targets = (await admin.fetchTopicOffsets(topic)).map((o) => ({
    partition: o.partition,
    high: BigInt(o.high),
  }));
  await admin.disconnect();
  const position = new Map<number, bigint>();
  const out = new Map<string, RunCommands>();
  const read = await topicReader(kafka).follow({
    topic,
    from: "beginning",
    onBatch: ({ partition, messages, next }) => {
      for (const m of messages) {
        const command = commandCodec.decode(m.value, m.headers);
        if (!wanted.has(command.workflowId)) continue;
        if (command.body.type === "StartWorkflow")
          out.set(command.workflowId, { start: command.sentAt });
      }
      position.set(partition, next);
    },
  });
  const deadline = Date.now() + 120_000;
  while (targets.some((t) => (position.get(t.partition) ?? 0n) < t.high)) {
    if (Date.now() > deadline) throw new Error("the commands topic was not read in 120 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  await read.close();
  return out;
}
