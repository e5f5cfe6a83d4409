/**
 * Failover, measured from outside as an operator sees it. Steady load (starts of a 3-step
 * workflow at --rate per second) runs through two decider processes and a worker process;
 * then, --kills times, one decider is killed with SIGKILL and a new one started in its place
 * (as a supervisor would). For each kill the benchmark waits until every partition of
 * weft.history has a new event, and reports kill → the slowest partition's first new event.
 * With --cluster (the three-broker cluster of `infra.sh up --cluster`, replication factor 3)
 * it also kills brokers: kill → history written again on every partition.
 *
 *   npm run bench:failover -- [--kills 10] [--rate 20] [--cluster --broker-kills 3]
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { DEFAULTS, loadConfig, topics, type WeftConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { WeftClient } from "../sdk/client";
import { createKafka } from "../transport/kafka";
import { brokerKill, brokerStart, CLUSTER_BROKERS, clusterUp } from "../test/support/cluster";
import { spawnRoles, type RoleProcess } from "../test/support/processes";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    rate: { type: "string", default: "20" },
    partitions: { type: "string", default: "4" },
    cluster: { type: "boolean", default: false },
    "broker-kills": { type: "string", default: "3" },
    "session-timeout": { type: "string" },
  },
});

const KILLS = Number(values.kills);
const RATE = Number(values.rate);
const BROKER_KILLS = values.cluster ? Number(values["broker-kills"]) : 0;
/** Give up on one failover after this long and count it as such. */
const FAILOVER_LIMIT_MS = 120_000;

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** When each history partition last received an event, as this process sees it. */
class HistoryWatch {
  private readonly last = new Map<number, number>();
  private readonly consumer;

  constructor(
    private readonly config: WeftConfig,
    kafka: ReturnType<typeof createKafka>,
  ) {
    this.consumer = kafka.consumer({
      groupId: `${config.topicPrefix}.failover-watch`,
      readUncommitted: false,
      maxWaitTimeInMs: 20,
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: topics.history(this.config), fromBeginning: false });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.config.commandPartitions,
      eachBatch: async ({ batch }) => {
        if (batch.messages.length > 0) this.last.set(batch.partition, Date.now());
        await Promise.resolve();
      },
    });
  }

  /** Resolves with ms from `since` until every partition had an event after `since`. */
  async allProgressedAfter(since: number): Promise<number> {
    const deadline = since + FAILOVER_LIMIT_MS;
    for (;;) {
      const times = Array.from(
        { length: this.config.commandPartitions },
        (_, p) => this.last.get(p) ?? 0,
      );
      if (times.every((t) => t > since)) return Math.max(...times) - since;
      if (Date.now() > deadline) return Infinity;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

async function main(): Promise<void> {
  if (values.cluster) clusterUp();
  const config = loadConfig({
    topicPrefix: `failover${Date.now().toString(36)}${randomBytes(2).toString("hex")}`,
    commandPartitions: Number(values.partitions),
    logLevel: "warn",
    ...(values.cluster ? { kafkaBrokers: CLUSTER_BROKERS } : {}),
  });
  const env: Record<string, string> = values["session-timeout"]
    ? { WEFT_DECIDER_SESSION_TIMEOUT_MS: values["session-timeout"] }
    : {};
  const logger = createLogger("warn");
  const kafka = createKafka(config, logger);
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  const deciders: RoleProcess[] = [
    await spawnRoles(config, "decider", env),
    await spawnRoles(config, "decider", env),
  ];
  const worker = await spawnRoles(config, "worker", env);
  const watch = new HistoryWatch(config, kafka);
  await watch.start();

  let stopLoad = false;
  let started = 0;
  const loadLoop = (async () => {
    const interval = 1000 / RATE;
    let next = Date.now();
    while (!stopLoad) {
      next += interval;
      void client
        .start("threeSteps", { input: { n: started++ } })
        .catch((err: unknown) => logger.warn({ err }, "start failed"));
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  })();

  const settle = async (what: string) => {
    const ms = await watch.allProgressedAfter(Date.now());
    if (!Number.isFinite(ms)) throw new Error(`no progress on every partition ${what}`);
  };
  await settle("before the first kill");

  const deciderTimes: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const victim = deciders.shift()!;
    const at = Date.now();
    await victim.kill9();
    // A supervisor restarts it; the survivor takes its partitions meanwhile.
    const replacement = spawnRoles(config, "decider", env);
    const ms = await watch.allProgressedAfter(at);
    deciderTimes.push(ms);
    process.stdout.write(`decider kill ${i + 1}: every partition progressed after ${ms} ms\n`);
    deciders.push(await replacement);
    // Let the replacement's join settle before the next kill.
    await settle("after a replacement joined");
  }

  const brokerTimes: number[] = [];
  for (let i = 0; i < BROKER_KILLS; i++) {
    const n = (i % 3) + 1;
    const at = Date.now();
    brokerKill(n);
    const ms = await watch.allProgressedAfter(at);
    brokerTimes.push(ms);
    process.stdout.write(`broker ${n} kill: history written on every partition after ${ms} ms\n`);
    brokerStart(n);
    await settle("after the broker returned");
  }

  stopLoad = true;
  await loadLoop;
  const summary = (name: string, times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    return `${name}: n=${times.length} p50 ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms`;
  };
  process.stdout.write(
    [
      `failover, ${config.commandPartitions} partitions, ${RATE} starts/s, session timeout ${values["session-timeout"] ?? DEFAULTS.deciderSessionTimeoutMs} ms, ${started} runs started`,
      summary("decider kill -9 → every partition progresses", deciderTimes),
      ...(brokerTimes.length > 0
        ? [summary("broker kill -9 → history written on every partition", brokerTimes)]
        : []),
      `load average (1/5/15 min) at the end: ${load()}`,
    ].join("\n") + "\n",
  );
  await watch.stop();
  await client.close();
  await Promise.all([...deciders, worker].map((p) => p.kill9()));
}

main().catch((err: unknown) => {
  process.stderr.write(`failover bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
