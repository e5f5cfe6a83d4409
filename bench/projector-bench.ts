/**
 * Projector throughput on the local broker: writes N synthetic runs (3 steps each, 11 events) to
 * a fresh history topic, then times one projector from offset 0 until every event is in the read
 * models: PostgreSQL (a schema of its own, dropped afterwards) or, with `--db sqlite:<file>`, a
 * fresh SQLite file. Prints events/s.
 *
 *   npx tsx bench/projector-bench.ts --runs 20000 --partitions 4 [--db sqlite:/tmp/p.db]
 */
import { parseArgs } from "node:util";
import { createTestSchema } from "../test/support/postgres";
import { Partitioners } from "kafkajs";
import { loadConfig, topics } from "../core/config";
import { createLogger } from "../core/logger";
import { rmSync } from "node:fs";
import { createPool, parseDatabaseUrl } from "../projections/database";
import { migrate } from "../projections/migrate";
import { Projector } from "../projections/projector";
import { ReadModelDb } from "../projections/read-model-db";
import { historyCodec } from "../schemas/codec";
import type { EventBody, HistoryEvent } from "../schemas/types";
import { createKafka } from "../adapters/kafka/client";
import { ensureTopics } from "../transport/topics";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20000" },
    partitions: { type: "string", default: "4" },
    db: { type: "string" },
  },
});
const RUNS = Number(values.runs);

function run(i: number): HistoryEvent[] {
  const workflowId = `bench-${i}`;
  const bodies: EventBody[] = [
    {
      type: "WorkflowStarted",
      workflowType: "bench",
      input: `{"n":${i}}`,
      idempotencyKey: null,
      requestId: "r",
    },
  ];
  for (let s = 1; s <= 3; s++) {
    bodies.push(
      {
        type: "StepScheduled",
        stepSeq: s,
        stepName: "echo",
        attempt: 1,
        input: `{"n":${i + s}}`,
        taskQueue: "default",
        timeoutMs: null,
        retryPolicy: '{"maximumAttempts":3}',
      },
      { type: "StepStarted", stepSeq: s, attempt: 1, workerId: "bench-worker", startedAt: 0 },
      {
        type: "StepCompleted",
        stepSeq: s,
        attempt: 1,
        workerId: "bench-worker",
        result: `{"n":${i + s}}`,
      },
    );
  }
  bodies.push({ type: "WorkflowCompleted", result: `{"n":${i + 3}}` });
  const t0 = 1_700_000_000_000 + i;
  return bodies.map((body, k) => ({ workflowId, seq: k + 1, at: t0 + k, body }));
}

async function main(): Promise<void> {
  const scratch = await createTestSchema();
  const config = loadConfig({
    topicPrefix: `pbench${Date.now().toString(36)}`,
    commandPartitions: Number(values.partitions),
    databaseUrl: scratch.databaseUrl,
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const kafka = createKafka(config, logger);
  const pool = createPool(config, logger, { max: config.commandPartitions + 2 });
  const target = values.db ? parseDatabaseUrl(values.db) : undefined;
  if (target?.dialect === "sqlite") {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${target.file}${suffix}`, { force: true });
  }
  const db =
    target?.dialect === "sqlite" ? ReadModelDb.sqlite(target.file) : ReadModelDb.postgres(pool);
  try {
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    await ensureTopics(kafkaAdmin, config);
    await kafkaAdmin.disconnect();
    await migrate(db);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const writeStart = Date.now();
    for (let i = 0; i < RUNS; i += 500) {
      const messages = [];
      for (let j = i; j < Math.min(RUNS, i + 500); j++) {
        for (const event of run(j)) {
          messages.push({
            key: event.workflowId,
            value: historyCodec.encode(event),
            headers: { ...historyCodec.headers },
          });
        }
      }
      await producer.send({ topic: topics.history(config), messages });
    }
    await producer.disconnect();
    const total = RUNS * run(0).length;
    process.stdout.write(`wrote ${total} events in ${Date.now() - writeStart} ms\n`);

    let batches = 0;
    let firstCommit = 0;
    const projector = new Projector({
      config,
      kafka,
      db,
      logger,
      onCommitted: () => {
        batches++;
        firstCommit ||= Date.now();
      },
    });
    const started = Date.now();
    await projector.start();
    for (;;) {
      const { rows } = await db.query<{ n: string | number }>(
        "SELECT count(*) AS n FROM weft_events",
      );
      if (Number(rows[0]!.n) >= total) break;
      if (Date.now() - started > 300_000) {
        throw new Error(`only ${rows[0]!.n} of ${total} events projected in 5 minutes`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const ms = Date.now() - started;
    await projector.stop();
    const projecting = Date.now() - firstCommit;
    process.stdout.write(
      `${db.dialect.name}: projected ${total} events (${RUNS} runs) over ${config.commandPartitions} partitions in ${ms} ms ` +
        `from start (${ms - projecting} ms joining the group and fetching): ` +
        `${Math.round((total / ms) * 1000)} events/s from start, ` +
        `${Math.round((total / projecting) * 1000)} events/s once projecting; ` +
        `${batches} transactions of ${Math.round(total / batches)} events on average\n`,
    );
  } finally {
    await db.close();
    await pool.end();
    await scratch.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
