/**
 * Side by side with a peer, on this machine, in one run: Weft on Kafka, Weft embedded and
 * BullMQ's 3-step job chain (Redis with AOF everysec) take turns, --rounds times, each round
 * of each target in a fresh process (bench/peers/driver.ts). Each round: a burst of --burst
 * workflows × 3 steps (completed steps/s), then starts at --rate per second for --seconds
 * (latency percentiles), the CPU seconds and peak RSS of every process involved (the broker
 * and redis-server too) and the load average at its start and end. Then the medians, the
 * ratios Weft / BullMQ and Weft's per-hop breakdown.
 *
 *   npm run bench:peers -- [--rounds 3] [--burst 5000] [--rate 100] [--seconds 20]
 *                          [--targets weft-kafka,weft-embedded,bullmq] [--contend 0]
 *                          [--warmup 1] [--processes 1]
 *
 * Targets: weft-kafka (decider and worker in one process, as `weft start` runs them),
 * weft-kafka-split (a decider process and a worker process), weft-kafka-kafkajs (as weft-kafka,
 * its decider committing with kafkajs's producer instead of the pipelined one), weft-kafka-txv1
 * (as weft-kafka, its pipelined producer on Kafka's first transaction protocol), weft-embedded,
 * bullmq.
 * --contend N runs N busy processes beside every round (the CPU shared).
 * --processes N runs weft-kafka as N decider and worker processes (as `weft start --processes
 * N`) and BullMQ with N worker processes; embedded Weft is one process whatever N is.
 * --warmup N runs N rounds of the first Kafka target before the measured ones, not counted: the
 * broker is the one process that lives from round to round, and a freshly started one spent
 * 46 CPU-s on its first round against 26 on the next (its JIT compiling), which made the first
 * Kafka round of a run the slowest whoever ran it.
 *
 * Kafka and Redis for Weft: KAFKA_BROKERS and REDIS_URL (else the infra script's defaults);
 * when nothing answers there, the benchmark starts a broker and a redis-server of its own and
 * stops them at its end. BullMQ's redis-server is always the benchmark's own.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import bullmqPackage from "bullmq/package.json";
import Redis from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { DEFAULTS } from "../core/config";
import { PrivateBroker } from "../test/support/private-broker";
import { spawnScript, startRedis, type Child } from "./peers/children";
import type { RoundResult } from "./peers/measure";
import { listenerPid } from "./peers/process-stats";
import { hopsTable, mediansTable, processesTable, ratiosTable, roundsTable } from "./peers/report";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    burst: { type: "string", default: "5000" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    concurrency: { type: "string", default: "256" },
    partitions: { type: "string", default: "4" },
    targets: { type: "string", default: "weft-kafka,weft-embedded,bullmq" },
    // Busy processes running beside every round: the CPU shared, as on a busy host.
    contend: { type: "string", default: "0" },
    warmup: { type: "string", default: "1" },
    processes: { type: "string", default: "1" },
  },
});

const TARGETS = values.targets.split(",").filter(Boolean);
const ROUNDS = Number(values.rounds);
const log = (line: string) => process.stdout.write(`${line}\n`);
/** Past this many partitions on the broker, its heap is mostly other runs' (see the log). */
const CROWDED_BROKER = 2000;

function hostPort(address: string): { host: string; port: number } {
  const u = new URL(address.includes("://") ? address : `tcp://${address}`);
  return { host: u.hostname, port: Number(u.port) };
}

/** Something accepts TCP connections there (within a second). */
function answers(address: string): Promise<boolean> {
  const { host, port } = hostPort(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Things this run started, undone at its end (or on Ctrl-C), last first. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
}

/** Runs one round of one target in a driver process; resolves with its result. */
async function runRound(
  target: string,
  round: number,
  env: Record<string, string>,
  extra: string[],
): Promise<RoundResult> {
  const args = [
    "--target",
    target,
    "--round",
    String(round),
    "--burst",
    values.burst,
    "--rate",
    values.rate,
    "--seconds",
    values.seconds,
    "--concurrency",
    values.concurrency,
    "--partitions",
    values.partitions,
    "--processes",
    values.processes,
    ...extra,
  ];
  const driver: Child = spawnScript("driver", args, env, { detached: true });
  const endGroup = () => {
    // The driver's process group: roles it started that outlived a failure go with it.
    try {
      process.kill(-driver.pid, "SIGKILL");
    } catch {
      // Nothing left in it.
    }
  };
  cleanups.push(() => Promise.resolve(endGroup()));
  const limitMs = 900_000 + Number(values.seconds) * 1000;
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(endGroup, limitMs);
    driver.child.once("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  endGroup();
  const line = driver
    .output()
    .split("\n")
    .find((l) => l.startsWith("RESULT "));
  if (code !== 0 || !line) {
    throw new Error(
      `${target} round ${round} failed (exit ${code}):\n${driver.output().slice(-6000)}`,
    );
  }
  return JSON.parse(line.slice("RESULT ".length)) as RoundResult;
}

async function main(): Promise<void> {
  process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));
  log(
    `bench:peers: ${ROUNDS} rounds of ${TARGETS.join(", ")}; burst ${values.burst} × 3 steps, ` +
      `${values.rate} starts/s for ${values.seconds} s, worker concurrency ${values.concurrency}, ` +
      `${values.partitions} partitions, ${values.processes} process(es) per target; ` +
      `${cpus().length} CPUs, node ${process.version}, ` +
      `load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
  );

  const env: Record<string, string> = {};
  const shared: Record<string, string[]> = {
    "weft-kafka": [],
    "weft-kafka-split": [],
    "weft-kafka-kafkajs": [],
    "weft-kafka-txv1": [],
    bullmq: [],
  };
  const onKafka = TARGETS.filter((t) => t.startsWith("weft-kafka"));
  if (onKafka.length > 0) {
    let brokers = process.env.KAFKA_BROKERS ?? DEFAULTS.kafkaBrokers;
    if (!(await answers(brokers.split(",")[0]!))) {
      log(`no broker answers at ${brokers}: starting one of the benchmark's own`);
      const broker = await PrivateBroker.reserve();
      cleanups.push(() => broker.destroy());
      await broker.start();
      brokers = broker.address;
    }
    let redisUrl = process.env.REDIS_URL ?? DEFAULTS.redisUrl;
    if (!(await answers(redisUrl))) {
      log(`no Redis answers at ${redisUrl}: starting one of the benchmark's own for Weft's leases`);
      const redis = await startRedis(["--appendonly", "no"]);
      cleanups.push(() => redis.destroy());
      redisUrl = redis.url;
    }
    env.KAFKA_BROKERS = brokers;
    env.REDIS_URL = redisUrl;
    const brokerPid = listenerPid(hostPort(brokers.split(",")[0]!).port);
    const redisPid = listenerPid(hostPort(redisUrl).port);
    log(`Weft on Kafka: broker ${brokers} (pid ${brokerPid}), Redis ${redisUrl} (pid ${redisPid})`);
    const held = await partitionsHeld(brokers);
    log(
      `the broker holds ${held} partitions` +
        (held > CROWDED_BROKER
          ? ": topics left by earlier runs weigh on its heap (each full collection then stops it for about 0.3 s); delete them for figures comparable with a fresh broker"
          : ""),
    );
    for (const target of onKafka) {
      if (brokerPid) shared[target]!.push(`kafka broker=${brokerPid}`);
      if (redisPid) shared[target]!.push(`redis (leases)=${redisPid}`);
    }
  }
  let bullmqUrl = "";
  if (TARGETS.includes("bullmq")) {
    const redis = await startRedis(["--appendonly", "yes", "--appendfsync", "everysec"]);
    cleanups.push(() => redis.destroy());
    bullmqUrl = redis.url;
    shared.bullmq!.push(`redis-server (AOF everysec)=${redis.pid}`);
    const probe = new Redis(redis.url);
    const aof = await probe.config("GET", "appendfsync");
    await probe.quit();
    log(
      `BullMQ ${bullmqPackage.version}: redis-server ${redis.url} (pid ${redis.pid}), appendonly yes, appendfsync ${(aof as string[])[1]}`,
    );
  }

  const contenders = Number(values.contend);
  if (contenders > 0) {
    for (let i = 0; i < contenders; i++) {
      const hog = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
      cleanups.push(() => Promise.resolve(void hog.kill("SIGKILL")));
    }
    log(`CPU shared: ${contenders} busy process(es) run beside every round`);
  }

  const warmups = onKafka.length > 0 ? Number(values.warmup) : 0;
  for (let round = 1; round <= warmups; round++) {
    const target = onKafka[0]!;
    const extra = shared[target]?.length ? ["--shared", shared[target].join(",")] : [];
    const r = await runRound(target, 0, env, extra);
    log(
      `warm-up ${round} ${target} (not counted): ${Math.round(r.burst.stepsPerSecond)} steps/s ` +
        `[load ${r.loadStart[0]!.toFixed(2)} → ${r.loadEnd[0]!.toFixed(2)}]`,
    );
  }

  const results: RoundResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Take turns, and rotate who goes first: no target always runs on a warmer machine.
    const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]!);
    for (const target of order) {
      const extra = [
        ...(shared[target]?.length ? ["--shared", shared[target].join(",")] : []),
        ...(target === "bullmq" ? ["--bullmq-url", bullmqUrl] : []),
      ];
      const r = await runRound(target, round, env, extra);
      results.push(r);
      log(
        `round ${round} ${target}: ${Math.round(r.burst.stepsPerSecond)} steps/s; first step p50 ` +
          `${r.steady.firstStep.p50} p99 ${r.steady.firstStep.p99} ms; step → next p50 ` +
          `${r.steady.nextStep.p50} p99 ${r.steady.nextStep.p99} ms; third done p50 ` +
          `${r.steady.thirdDone.p50} p99 ${r.steady.thirdDone.p99} ms ` +
          `[load ${r.loadStart[0]!.toFixed(2)} → ${r.loadEnd[0]!.toFixed(2)}]`,
      );
    }
  }

  log("\n### Each round\n");
  log(roundsTable(results));
  log(`\n### Medians over ${ROUNDS} rounds\n`);
  log(mediansTable(results));
  log("\n### Ratios Weft / BullMQ (medians)\n");
  log(ratiosTable(results));
  log("\n### Each process\n");
  log(processesTable(results));
  log("\n### Weft per hop at the steady rate (medians over rounds)\n");
  log(hopsTable(results));
  log(
    `\nload average (1/5/15 min) at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}

main()
  .then(cleanUp, async (err: unknown) => {
    process.stderr.write(`bench:peers failed: ${(err as Error).stack ?? String(err)}\n`);
    await cleanUp();
    process.exitCode = 1;
  })
  .finally(() => process.exit());

/** Partitions of every topic on the broker, internal ones included. */
async function partitionsHeld(brokers: string): Promise<number> {
  const admin = new Kafka({ brokers: brokers.split(","), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata();
    return topics.reduce((sum, t) => sum + t.partitions.length, 0);
  } finally {
    await admin.disconnect();
  }
}
