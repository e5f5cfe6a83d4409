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
import { createKafka } from "../adapters/kafka/client";
import { withAdmin } from "../transport/topics";
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

/**
 * When each history partition last grew, as this process sees it: an admin client polls the
 * partitions' last stable offsets (read_committed), so a committed decision counts and an
 * aborted one does not. A poll, not a consumer group: the watch must not itself wait out a
 * rebalance or a coordinator move, or the figure would be the watch's failover, not Weft's.
 */
class HistoryWatch {
  private readonly last = new Map<number, number>();
  private readonly high = new Map<number, string>();
  private admin: ReturnType<ReturnType<typeof createKafka>["admin"]> | undefined;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: WeftConfig,
    private readonly kafka: ReturnType<typeof createKafka>,
  ) {}

  start(): Promise<void> {
    this.polling = this.poll();
    return Promise.resolve();
  }

  private async poll(): Promise<void> {
    const topic = topics.history(this.config);
    while (!this.stopped) {
      try {
        if (!this.admin) {
          const admin = this.kafka.admin();
          await admin.connect();
          this.admin = admin;
        }
        const now = Date.now();
        for (const o of await this.admin.fetchTopicOffsets(topic)) {
          if (this.high.get(o.partition) !== o.high) {
            if (this.high.has(o.partition)) this.last.set(o.partition, now);
            this.high.set(o.partition, o.high);
          }
        }
      } catch {
        // A dead broker or a leader moving: try again with a fresh client.
        await this.admin?.disconnect().catch(() => undefined);
        this.admin = undefined;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
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

  async stop(): Promise<void> {
    this.stopped = true;
    await this.polling;
    await this.admin?.disconnect();
  }
}

/** Resolves once every partition of every topic (Kafka's own too) has all replicas in sync. */
async function fullyReplicated(kafka: ReturnType<typeof createKafka>): Promise<void> {
  const deadline = Date.now() + FAILOVER_LIMIT_MS;
  while (Date.now() < deadline) {
    const lagging = await withAdmin(kafka, async (admin) => {
      const { topics: all } = await admin.fetchTopicMetadata();
      return all.flatMap((t) => t.partitions).filter((p) => p.isr.length < p.replicas.length)
        .length;
    }).catch(() => Infinity);
    if (lagging === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("replicas did not return in sync");
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
    process.stdout.write(
      `decider kill ${i + 1} at ${new Date(at).toISOString()}: every partition progressed after ${ms} ms\n`,
    );
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
    process.stdout.write(
      `broker ${n} kill at ${new Date(at).toISOString()}: history written on every partition after ${ms} ms\n`,
    );
    brokerStart(n);
    await settle("after the broker returned");
    // As an operator would: the next broker goes only once every replica is back in sync,
    // else the kill measures a cluster below min.insync.replicas, not a failover.
    await fullyReplicated(kafka);
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
