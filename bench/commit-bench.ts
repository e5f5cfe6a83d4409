/**
 * A decider's commit, alone: decision-shaped transactions back to back on one pipelined
 * producer (a record each to three partitions, as history, changelog and task, and a consumed
 * offset), in Kafka's first transaction protocol and its second (KIP-890), the two taking turns
 * round by round on the same broker. Prints per round the commit's p50 / p90 / p99, commits per
 * second, the CPU of the client and of the broker per commit, and the load average beside it;
 * then the medians and the second's ratios to the first.
 *
 * `--decisions N` puts N decisions in each transaction, each on partitions of its own (as N
 * partitions' deciders committing together would): what one transaction for a process's
 * partitions would cost against one for each. CPU is then also given per decision.
 *
 *   npm run bench:commit -- [--rounds 6] [--commits 1000] [--decisions 1]
 *
 * Kafka: KAFKA_BROKERS (else the infra script's broker), which must speak the second protocol.
 */
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { createKafka } from "../adapters/kafka/client";
import {
  pipelinedProducer,
  type TransactionVersion,
} from "../adapters/kafka/pipelined-transactions";
import { withAdmin } from "../transport/topics";
import { deleteTopicsOf } from "../test/support/topic-cleanup";
import { median, percentile } from "./peers/measure";
import { cpuSeconds, listenerPid } from "./peers/process-stats";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    commits: { type: "string", default: "1000" },
    decisions: { type: "string", default: "1" },
  },
});
const ROUNDS = Number(values.rounds);
const COMMITS = Number(values.commits);
const DECISIONS = Number(values.decisions);
const RECORD = "x".repeat(300);

interface Round {
  version: TransactionVersion;
  p50: number;
  p90: number;
  p99: number;
  perSecond: number;
  clientCpuMs: number;
  brokerCpuMs: number;
  load: string;
}

const config = loadConfig({ topicPrefix: `bench-commit-${randomBytes(3).toString("hex")}` });
const kafka = createKafka(config, createLogger("silent"));
const topic = `${config.topicPrefix}.decisions`;
const brokerPid = listenerPid(Number(config.kafkaBrokers[0]!.split(":").pop()));

async function round(version: TransactionVersion, index: number): Promise<Round> {
  const producer = pipelinedProducer(kafka, {
    transactionalId: `${config.topicPrefix}.${index}`,
    transactionTimeout: 30_000,
    transactionVersion: version,
  });
  if (!producer) throw new Error("kafkajs's cluster factory is not reachable");
  await producer.connect();
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const broker0 = brokerPid ? cpuSeconds(brokerPid) : NaN;
  const start = performance.now();
  for (let i = 0; i < COMMITS; i++) {
    const begun = performance.now();
    const tx = await producer.transaction();
    // Decision d: a record to each of partitions 3d, 3d + 1, 3d + 2 and an offset on d.
    for (let partition = 0; partition < 3 * DECISIONS; partition++)
      await tx.sendBatch({ topicMessages: [{ topic, messages: [{ value: RECORD, partition }] }] });
    await tx.sendOffsets({
      consumerGroupId: `${config.topicPrefix}.group`,
      topics: [
        {
          topic,
          partitions: Array.from({ length: DECISIONS }, (_, partition) => ({
            partition,
            offset: String(i + 1),
          })),
        },
      ],
    });
    await tx.commit();
    times.push(performance.now() - begun);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const brokerCpu = brokerPid ? cpuSeconds(brokerPid) - broker0 : NaN;
  await producer.disconnect();
  times.sort((a, b) => a - b);
  return {
    version,
    p50: percentile(times, 50),
    p90: percentile(times, 90),
    p99: percentile(times, 99),
    perSecond: COMMITS / seconds,
    clientCpuMs: (cpu.user + cpu.system) / 1000 / COMMITS,
    brokerCpuMs: (brokerCpu * 1000) / COMMITS,
    load: loadavg()[0]!.toFixed(2),
  };
}

const ms = (n: number) => n.toFixed(2);

async function main(): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3 * DECISIONS, replicationFactor: 1 }],
    }),
  );
  const rounds: Round[] = [];
  console.log(
    `${COMMITS} commits a round, ${DECISIONS} decision(s) each; broker pid ${brokerPid ?? "not found"}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(
    "| round | protocol | p50 / p90 / p99 ms | commits/s | client CPU ms / commit | broker CPU ms / commit | client + broker CPU ms / decision | load |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
  // A warm-up round of each, not counted: the broker's JIT and the connections.
  for (const version of [1, 2] as const) await round(version, -version);
  for (let r = 0; r < ROUNDS; r++) {
    for (const version of r % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      const result = await round(version, rounds.length);
      rounds.push(result);
      console.log(
        `| ${r + 1} | ${version} | ${ms(result.p50)} / ${ms(result.p90)} / ${ms(result.p99)} | ${result.perSecond.toFixed(0)} | ${ms(result.clientCpuMs)} | ${ms(result.brokerCpuMs)} | ${ms((result.clientCpuMs + result.brokerCpuMs) / DECISIONS)} | ${result.load} |`,
      );
    }
  }
  const of = (version: TransactionVersion, pick: (r: Round) => number) =>
    median(rounds.filter((r) => r.version === version).map(pick));
  console.log("\nMedians over the rounds, and the second protocol's over the first's:\n");
  console.log("| figure | protocol 1 | protocol 2 | 2 / 1 |");
  console.log("| --- | ---: | ---: | ---: |");
  const figures: [string, (r: Round) => number][] = [
    ["commit p50 ms", (r) => r.p50],
    ["commit p90 ms", (r) => r.p90],
    ["commit p99 ms", (r) => r.p99],
    ["commits/s", (r) => r.perSecond],
    ["client CPU ms / commit", (r) => r.clientCpuMs],
    ["broker CPU ms / commit", (r) => r.brokerCpuMs],
    ["client + broker CPU ms / decision", (r) => (r.clientCpuMs + r.brokerCpuMs) / DECISIONS],
  ];
  for (const [name, pick] of figures) {
    const one = of(1, pick);
    const two = of(2, pick);
    console.log(`| ${name} | ${ms(one)} | ${ms(two)} | ${(two / one).toFixed(2)} |`);
  }
  await deleteTopicsOf(kafka, [config.topicPrefix]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
