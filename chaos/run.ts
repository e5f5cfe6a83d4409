/**
 * `npm run chaos -- --minutes N [--rate 20] [--seed S]`: Weft under faults, then the verdict.
 *
 * Starts the three-broker cluster, PostgreSQL and Redis (infra/infra.sh), then every role as a
 * process of its own (2 deciders, 2 workers, 1 projector, 2 APIs) on topics and a schema of
 * the run's own, with replication factor 3. Drives load through GraphQL while it kills role
 * processes and brokers, lets the runs settle, reads weft.history, weft.commands, weft.dlq and
 * the read models, prints one table of checks and the failover figures, and exits 1 on any
 * violation (2 when the harness itself failed, 130 when interrupted). It stops the processes
 * it started; the cluster stays up for the next run unless --down.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg } from "node:os";
import { join, relative } from "node:path";
import type { Kafka } from "kafkajs";
import { Pool } from "pg";
import { commandCodec, deadLetterCodec, historyCodec, taskCodec } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";
import { Apis, signalTakesRequestId } from "./api";
import { runChecks, statusFromHistory, type Evidence, type ReadModelRow } from "./checks";
import { diagnose, type LogPosition } from "./diagnose";
import { exitReason } from "./exit-reason";
import { brokerFailover, deciderFailover } from "./figures";
import { Faults } from "./faults";
import { HistoryTail } from "./history-tail";
import { clusterDown, startServers } from "./infra";
import { harnessKafka } from "./kafka-client";
import { lineFile } from "./line-file";
import { Load } from "./load";
import { parseOptions, type ChaosOptions } from "./options";
import { Random } from "./random";
import { formatReport } from "./report";
import { ROOT, WORKFLOWS_MODULE } from "./paths";
import { Supervisor, type RoleSpec } from "./roles";
import { readTopic } from "./topic-reader";
import { deleteTopicsOf } from "../test/support/topic-cleanup";

const READ_MODEL_WAIT_MS = 60_000;

class Interrupted extends Error {}

async function main(): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const outDir = options.outDir ?? join(ROOT, ".chaos", `${stamp}-s${options.seed}`);
  mkdirSync(join(outDir, "roles"), { recursive: true });
  const harnessLog = lineFile(join(outDir, "harness.log"));
  const quiet = (line: string) => harnessLog.write(`${new Date().toISOString()} ${line}`);
  const log = (line: string) => {
    quiet(line);
    process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };

  const abort = new AbortController();
  const cleanups: (() => Promise<void> | void)[] = [];
  let interrupts = 0;
  const onSignal = (signal: string) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write("interrupted again: exiting without cleaning up\n");
      process.exit(130);
    }
    log(`${signal}: stopping the run and everything it started`);
    abort.abort();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const checkAbort = () => {
    if (abort.signal.aborted) throw new Interrupted("interrupted");
  };

  log(`seed ${options.seed}; output in ${relative(process.cwd(), outDir) || "."}`);
  try {
    return await runChaos(options, outDir, log, quiet, abort.signal, checkAbort, cleanups);
  } catch (err) {
    if (err instanceof Interrupted) return 130;
    log(`the chaos run failed: ${(err as Error).stack ?? String(err)}`);
    return 2;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log(`cleanup failed: ${String(err)}`);
      }
    }
    await harnessLog.close();
  }
}

async function runChaos(
  options: ChaosOptions,
  outDir: string,
  log: (line: string) => void,
  quiet: (line: string) => void,
  abort: AbortSignal,
  checkAbort: () => void,
  cleanups: (() => Promise<void> | void)[],
): Promise<number> {
  const servers = startServers(log);
  if (options.clusterDown) {
    cleanups.push(() => {
      log("stopping the three-broker cluster (--down)");
      clusterDown();
    });
  }
  checkAbort();
  const root = new Random(options.seed);
  const prefix = `chaos${Date.now().toString(36)}`;
  const runTag = `${prefix}-s${options.seed}`;
  const topicsOf = {
    commands: `${prefix}.commands`,
    history: `${prefix}.history`,
    dlq: `${prefix}.dlq`,
    deciders: `${prefix}.deciders`,
  };

  // The run's own schema: its read models start empty and are compared with its history alone.
  const schema = prefix.toLowerCase();
  const admin = new Pool({ connectionString: servers.databaseUrl, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const schemaUrl = new URL(servers.databaseUrl);
  schemaUrl.searchParams.set("options", `-c search_path=${schema}`);
  let keep = options.keep;
  const kafka = harnessKafka(servers.kafkaBrokers, quiet);
  cleanups.push(async () => {
    if (keep) {
      log(`kept for inspection: PostgreSQL schema ${schema}, topics ${prefix}.*`);
    } else {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await deleteTopicsOf(kafka, [prefix]).catch((err: unknown) =>
        log(`could not delete the run's topics: ${String(err)}`),
      );
    }
    await admin.end();
  });

  const ports = [await freePort(), await freePort()];
  const specs: RoleSpec[] = [
    { name: "decider-1", role: "decider" },
    { name: "worker-1", role: "worker" },
    // Both roles in one process, as `weft start` runs them: its worker takes the tasks its
    // decider commits at once and reports to it directly (config.localDispatch).
    { name: "decider-worker-1", role: "decider,worker" },
    { name: "projector-1", role: "projector" },
    { name: "api-1", role: "api", port: ports[0] },
    { name: "api-2", role: "api", port: ports[1] },
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: servers.kafkaBrokers,
    REDIS_URL: servers.redisUrl,
    DATABASE_URL: schemaUrl.toString(),
    WEFT_TOPIC_PREFIX: prefix,
    WEFT_REPLICATION_FACTOR: "3",
    WEFT_COMMAND_PARTITIONS: String(options.partitions),
    WEFT_TASK_PARTITIONS: String(options.partitions),
    WEFT_LOG_LEVEL: options.logLevel,
  };
  delete env.PORT;
  delete env.WEFT_METRICS_PORT;
  const supervisor = new Supervisor(specs, env, WORKFLOWS_MODULE, join(outDir, "roles"), log);
  // Interrupted (Ctrl-C also reaches the children, which drain and exit): no restarts.
  abort.addEventListener("abort", () => supervisor.halt());
  // Should the harness die without its cleanup, its role processes die with it.
  process.on("exit", () => supervisor.killAllNow());
  cleanups.push(async () => {
    log("stopping the role processes (SIGTERM, then SIGKILL after 15 s)");
    await supervisor.stopAll(15_000);
  });
  log(
    `starting ${specs.length} role processes on topics ${prefix}.* (replication factor 3, ${options.partitions} partitions), schema ${schema}`,
  );
  const began = Date.now();
  await supervisor.startAll(180_000);
  log(`every role process is ready (${((Date.now() - began) / 1000).toFixed(1)} s)`);
  checkAbort();

  const apis = new Apis(ports.map((p) => `http://127.0.0.1:${p}`));
  const requestIds = await signalTakesRequestId(apis);
  log(
    requestIds
      ? "signalWorkflow takes requestId: a share of the signals is sent twice with the same request ID"
      : "signalWorkflow takes no requestId on this API: retried signals are not checked",
  );

  const acks = lineFile(join(outDir, "acks.jsonl"));
  cleanups.push(() => acks.close());
  const load = new Load(
    apis,
    { starts: root.fork("starts"), signals: root.fork("signals") },
    runTag,
    requestIds,
    acks,
    quiet,
  );
  const tail = new HistoryTail(kafka, topicsOf.history, (e) => load.onEvent(e), quiet);
  cleanups.push(() => tail.stop());
  await tail.start();

  const faults = new Faults(
    supervisor,
    kafka,
    topicsOf.deciders,
    topicsOf.commands,
    { roles: root.fork("roles"), brokers: root.fork("brokers") },
    log,
  );
  // Whatever happens, no broker stays down and no role stays dead behind the run.
  cleanups.push(() => faults.restoreAll(false));

  const loadAverages: number[] = [];
  const sampler = setInterval(() => loadAverages.push(loadavg()[0]!), 5000);
  cleanups.push(() => clearInterval(sampler));
  const loadStart = Date.now();
  const loadEnd = loadStart + options.minutes * 60_000;
  const openRuns = () => {
    const open = new Set(tail.open);
    for (const s of load.starts) if (!tail.closed.has(s.workflowId)) open.add(s.workflowId);
    return open.size;
  };
  const progress = setInterval(() => {
    const kills = faults.kills.length;
    log(
      `t+${Math.round((Date.now() - loadStart) / 1000)} s: starts acked ${load.starts.length} (refused ${load.startsRefused}), ` +
        `closed ${tail.closed.size}, open ${openRuns()}, signals ${load.signals.reduce((n, s) => n + s.acks.length, 0)}, ` +
        `kills ${kills}, load ${loadavg()[0]!.toFixed(1)}`,
    );
  }, 10_000);
  cleanups.push(() => clearInterval(progress));

  log(
    `load: ${options.rate} starts/s for ${options.minutes} min` +
      (options.calm
        ? " (calm: no kills)"
        : "; kill -9 of a role every 5–10 s, of a broker about every 60 s"),
  );
  await Promise.all([
    load.runStarts(options.rate, loadEnd, abort),
    options.calm ? undefined : faults.killRoles(loadEnd, abort),
    options.calm ? undefined : faults.killBrokers(loadEnd, abort),
  ]);
  checkAbort();
  log("load over: no more kills; everything killed comes back");
  await faults.restoreAll();

  // Settle: until every run is closed, or the bound passes.
  const settleUntil = Date.now() + options.settleSeconds * 1000;
  while (openRuns() > 0 && Date.now() < settleUntil && !abort.aborted) {
    await new Promise((r) => setTimeout(r, 500));
  }
  checkAbort();
  const settledMs = openRuns() === 0 ? Date.now() - loadEnd : null;
  load.stopPlanning();
  await load.drain();
  clearInterval(sampler);
  clearInterval(progress);
  log(
    settledMs === null
      ? `${openRuns()} runs still open ${options.settleSeconds} s after the load; checking anyway`
      : `every run closed ${(settledMs / 1000).toFixed(1)} s after the load`,
  );

  // The verdict rests on the logs read afresh, not on what the tail saw.
  log("reading weft.history, weft.commands and weft.dlq");
  const notes: string[] = [];
  const histories = new Map<string, HistoryEvent[]>();
  const historyTimes = new Map<number, number[]>();
  let undecodable = 0;
  const historyRead = await readTopic(kafka, topicsOf.history, (r) => {
    try {
      const event = historyCodec.decode(r.value, r.headers);
      const list = histories.get(event.workflowId) ?? [];
      list.push(event);
      histories.set(event.workflowId, list);
    } catch {
      undecodable++;
    }
    const times = historyTimes.get(r.partition) ?? [];
    times.push(r.timestamp);
    historyTimes.set(r.partition, times);
  });
  for (const times of historyTimes.values()) times.sort((a, b) => a - b);
  const starts = new Map<string, LogPosition>();
  const reports = new Map<string, (LogPosition & { type: string })[]>();
  const commandsRead = await readTopic(kafka, topicsOf.commands, (r) => {
    try {
      const { workflowId, body } = commandCodec.decode(r.value, r.headers);
      const at = { partition: r.partition, offset: r.offset, timestamp: r.timestamp };
      if (body.type === "StartWorkflow" && !starts.has(workflowId)) starts.set(workflowId, at);
      if (
        body.type === "ReportStepStarted" ||
        body.type === "ReportStepCompleted" ||
        body.type === "ReportStepFailed"
      ) {
        const key = `${workflowId}/${body.stepSeq}/${body.attempt}`;
        reports.set(key, [...(reports.get(key) ?? []), { ...at, type: body.type }]);
      }
    } catch {
      undecodable++;
    }
  });
  const tasks = new Map<string, LogPosition & { topic: string }>();
  const taskTopics = await topicsWith(kafka, `${prefix}.tasks.`);
  const tasksRead = [];
  for (const topic of taskTopics) {
    tasksRead.push(
      await readTopic(kafka, topic, (r) => {
        try {
          const task = taskCodec.decode(r.value, r.headers);
          const key = `${task.workflowId}/${task.stepSeq}/${task.attempt}`;
          if (!tasks.has(key))
            tasks.set(key, {
              topic,
              partition: r.partition,
              offset: r.offset,
              timestamp: r.timestamp,
            });
        } catch {
          undecodable++;
        }
      }),
    );
  }
  const deadLetters: { key: string; reason: string }[] = [];
  const dlqRead = await readTopic(kafka, topicsOf.dlq, (r) => {
    try {
      const d = deadLetterCodec.decode(r.value, r.headers);
      deadLetters.push({ key: d.key?.toString() ?? "(no key)", reason: d.reason });
    } catch {
      deadLetters.push({ key: `offset ${r.offset}`, reason: "undecodable dead letter" });
    }
  });
  const incomplete = [
    ...historyRead.incomplete,
    ...commandsRead.incomplete,
    ...tasksRead.flatMap((t) => t.incomplete),
    ...dlqRead.incomplete,
  ];
  if (incomplete.length) notes.push(`read incomplete: ${incomplete.join(", ")}`);
  if (undecodable) notes.push(`${undecodable} undecodable records in history/commands/tasks`);
  const committed = await committedOffsets(kafka, [
    { groupId: topicsOf.deciders, topic: topicsOf.commands },
    ...taskTopics.map((topic) => ({
      groupId: `${prefix}.workers.${topic.slice(`${prefix}.tasks.`.length)}`,
      topic,
    })),
  ]);
  const deciderCommitted = new Map<number, bigint>();
  for (const [key, offset] of committed) {
    const [topic, partition] = [
      key.slice(0, key.lastIndexOf(":")),
      key.slice(key.lastIndexOf(":") + 1),
    ];
    if (topic === topicsOf.commands) deciderCommitted.set(Number(partition), offset);
  }

  log("waiting for the read models to catch up with history");
  const readModel = await settledReadModel(schemaUrl.toString(), histories, load, log);

  const evidence: Evidence = {
    starts: load.starts,
    signals: load.signals,
    histories,
    requestIds,
    readModel,
    startCommands: starts,
    committed: deciderCommitted,
    roleStarts: supervisor.processes.reduce((n, p) => n + p.starts, 0),
    roleExits: supervisor.unexpectedExits.map((e) => ({
      name: e.name,
      pid: e.pid,
      why: exitReason(e.lastLines),
    })),
    deadLetters,
  };
  const rows = runChecks(evidence);
  const diagnosis = diagnose(load.starts, histories, {
    starts,
    reports,
    tasks,
    committed,
    commandsTopic: topicsOf.commands,
  });
  const decider = deciderFailover(faults.kills, historyTimes);
  const brokers = brokerFailover(faults.kills, historyTimes, loadEnd);
  if (load.skippedTicks)
    notes.push(`${load.skippedTicks} start ticks skipped (1000 calls in flight)`);
  if (apis.failedCalls) notes.push(`${apis.failedCalls} GraphQL calls failed and were sent again`);
  const report = formatReport(
    {
      seed: options.seed,
      minutes: options.minutes,
      rate: options.rate,
      topicPrefix: prefix,
      startsAcked: load.starts.length,
      startsRefused: load.startsRefused,
      signalsAcked: load.signals.filter((s) => s.acks.length).length,
      startLatencies: load.starts.map((s) => s.ackAt - s.sentAt),
      waitSeenLags: load.signals.map((s) => s.seenAt - s.waitAt),
      roleKills: faults.kills.filter((k) => k.kind === "role").length,
      brokerKills: faults.kills.filter((k) => k.kind === "broker").length,
      settledMs,
      loadAverages,
      notes,
    },
    rows,
    decider,
    brokers,
    diagnosis,
  );
  process.stdout.write(`\n${report}\n`);
  writeFileSync(join(outDir, "report.txt"), `${report}\n`);
  writeFileSync(
    join(outDir, "report.json"),
    JSON.stringify({ options, rows, decider, brokers, kills: faults.kills, notes }, null, 2),
  );
  writeFileSync(
    join(outDir, "signals.jsonl"),
    load.signals.map((s) => JSON.stringify(s)).join("\n") + "\n",
  );
  const violations = rows.some((r) => typeof r.violations === "number" && r.violations > 0);
  if (violations || incomplete.length) keep = true;
  log(`report in ${relative(process.cwd(), join(outDir, "report.txt"))}`);
  if (incomplete.length) return 2;
  return violations ? 1 : 0;
}

/** The read models once they equal history, or as they are after READ_MODEL_WAIT_MS. */
async function settledReadModel(
  databaseUrl: string,
  histories: ReadonlyMap<string, readonly HistoryEvent[]>,
  load: Load,
  log: (line: string) => void,
): Promise<Map<string, ReadModelRow> | undefined> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  const ids = new Set([...histories.keys(), ...load.starts.map((s) => s.workflowId)]);
  const deadline = Date.now() + READ_MODEL_WAIT_MS;
  try {
    for (;;) {
      const model = new Map<string, ReadModelRow>();
      try {
        const { rows } = await pool.query<{
          workflow_id: string;
          status: string;
          last_seq: number;
        }>("SELECT workflow_id, status, last_seq FROM weft_runs");
        for (const r of rows) model.set(r.workflow_id, { status: r.status, lastSeq: r.last_seq });
      } catch (err) {
        log(`weft_runs could not be read: ${String(err)}`);
        return undefined;
      }
      let differ = 0;
      for (const id of ids) {
        const want = statusFromHistory(histories.get(id) ?? []);
        const row = model.get(id);
        if (!row || row.status !== want.status || row.lastSeq !== want.lastSeq) differ++;
      }
      if (differ === 0 || Date.now() > deadline) return model;
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await pool.end();
  }
}

/** Committed offsets of consumer groups, as `topic:partition` → offset. */
async function committedOffsets(
  kafka: Kafka,
  of: readonly { groupId: string; topic: string }[],
): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, bigint>();
    for (const { groupId, topic } of of) {
      const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const p of fetched[0]?.partitions ?? []) {
        if (Number(p.offset) >= 0) out.set(`${topic}:${p.partition}`, BigInt(p.offset));
      }
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

async function topicsWith(kafka: Kafka, prefix: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort();
  } finally {
    await admin.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  },
);
