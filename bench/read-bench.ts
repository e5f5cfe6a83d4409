/**
 * Read-side latency through the real HTTP server: fills fresh read models with N runs
 * (bench/seed-runs.ts, the projector's own fold and writers) — a PostgreSQL schema of their own,
 * or with `--db sqlite:<file>` a fresh SQLite file — starts the API on a loopback port, then
 * times `workflow(id)` with its steps, timers, signals and history, and filtered `workflows`
 * pages (first pages and deeper ones by cursor). Prints p50/p95/p99 per query. On SQLite it also
 * times reopening the file (open, schema check, first read).
 *
 *   npm run bench:read -- --runs 100000 --requests 2000 [--db sqlite:/tmp/weft-read.db]
 */
import { createLiveEmitter } from "../adapters/redis/live-emitter";
import { closeLiveEmitter } from "../projections/live-changes";
import { rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { createTestSchema } from "../test/support/postgres";
import { loadConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { createApiServer } from "../graphql/server";
import { CommandProducer } from "../producers/command-producer";
import { createPool, parseDatabaseUrl } from "../projections/database";
import { checkSchema, migrate } from "../projections/migrate";
import { ReadModelDb } from "../projections/read-model-db";
import { READ_MODEL_TABLES } from "../projections/read-model-tables";
import { findRun } from "../graphql/run-queries";
import { ConsumerLagReader } from "../transport/consumer-lag";
import { createKafka } from "../adapters/kafka/client";
import { ensureTopics, withAdmin } from "../transport/topics";
import { SEED_TYPES, seedRuns } from "./seed-runs";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "100000" },
    requests: { type: "string", default: "2000" },
    keep: { type: "boolean", default: false },
    db: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);

const WORKFLOW = `query ($id: String!) {
  workflow(id: $id) {
    id type status input result error waitingOn startedAt closedAt lastSeq
    steps { stepSeq attempt stepName taskQueue status workerId scheduledAt startedAt finishedAt durationMs error }
    timers { kind seq attempt dueAt firedAt status }
    signals { seq name payload receivedAt waitSeq }
    events { seq type at body }
  }
}`;

const PAGE = `query ($filter: WorkflowFilter, $after: String) {
  workflows(filter: $filter, first: 20, after: $after) {
    nodes { id type status startedAt closedAt waitingOn }
    pageInfo { endCursor hasNextPage }
  }
}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(1);
  return `${name}: n=${samples.length} p50 ${f(percentile(sorted, 50))} ms, p95 ${f(percentile(sorted, 95))} ms, p99 ${f(percentile(sorted, 99))} ms, max ${f(sorted.at(-1)!)} ms`;
}

async function main(): Promise<void> {
  const scratch = await createTestSchema();
  const config = loadConfig({
    topicPrefix: `rbench${Date.now().toString(36)}`,
    databaseUrl: scratch.databaseUrl,
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const pool = createPool(config, logger, { max: 10 });
  const target = values.db ? parseDatabaseUrl(values.db) : undefined;
  const sqliteFile = target?.dialect === "sqlite" ? target.file : undefined;
  if (sqliteFile) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${sqliteFile}${suffix}`, { force: true });
  }
  let db = sqliteFile ? ReadModelDb.sqlite(sqliteFile) : ReadModelDb.postgres(pool);
  const kafka = createKafka(config, logger);
  const commands = new CommandProducer(kafka, config);
  try {
    await migrate(db);
    const seedStart = Date.now();
    const events = await seedRuns(db, RUNS, logger, {
      onProgress: (done) => {
        if (done % 20_000 === 0) process.stdout.write(`  seeded ${done} runs\n`);
      },
    });
    const seedMs = Date.now() - seedStart;
    let rows = 0;
    for (const table of READ_MODEL_TABLES) {
      const { rows: count } = await db.query<{ n: string | number }>(
        `SELECT count(*) AS n FROM ${table.name}`,
      );
      rows += Number(count[0]!.n);
    }
    process.stdout.write(
      `${db.dialect.name}: seeded ${RUNS} runs (${events} events, ${rows} rows) through the projector's fold in ${seedMs} ms: ` +
        `${Math.round((rows / seedMs) * 1000)} rows/s, ${Math.round((events / seedMs) * 1000)} events/s\n`,
    );
    if (sqliteFile) {
      await db.close();
      const t0 = performance.now();
      db = ReadModelDb.sqlite(sqliteFile);
      await checkSchema(db);
      await findRun(db, "seed-000000");
      const openMs = performance.now() - t0;
      const wal = statSync(`${sqliteFile}-wal`, { throwIfNoEntry: false })?.size ?? 0;
      const size = statSync(sqliteFile).size + wal;
      process.stdout.write(
        `reopened ${sqliteFile} (${Math.round(size / 2 ** 20)} MB) to a first read in ${openMs.toFixed(1)} ms; ` +
          `RSS now ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB\n`,
      );
    }
    await withAdmin(kafka, (a) => ensureTopics(a, config));
    await commands.connect();
    const lag = new ConsumerLagReader({ kafka, config, pool: db, logger });
    const live = createLiveEmitter(config, logger);
    const app = await createApiServer({ config, db, logger, commands, lag, live });
    const address = await app.listen({ port: 0, host: "127.0.0.1" });
    const post = async (query: string, variables: Record<string, unknown>) => {
      const t0 = performance.now();
      const res = await fetch(`${address}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: unknown; errors?: unknown };
      const ms = performance.now() - t0;
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return { ms, data: body.data };
    };
    const id = (i: number) => `seed-${i.toString(36).padStart(6, "0")}`;
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };

    // Warm-up: connections, JIT, PostgreSQL's caches.
    for (let i = 0; i < 200; i++) await post(WORKFLOW, { id: id(Math.floor(random() * RUNS)) });

    const detail: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const { ms, data } = await post(WORKFLOW, { id: id(Math.floor(random() * RUNS)) });
      if (!(data as { workflow: unknown }).workflow) throw new Error("a seeded run is missing");
      detail.push(ms);
    }

    const now = Date.now();
    const day = 24 * 3600 * 1000;
    const filters: Array<[string, Record<string, unknown>]> = [
      ["no filter", {}],
      ["status COMPLETED", { status: "COMPLETED" }],
      ["status RUNNING", { status: "RUNNING" }],
      ["status FAILED + type", { status: "FAILED", type: SEED_TYPES[2] }],
      ["type", { type: SEED_TYPES[1] }],
      [
        "time range (1 day)",
        { from: new Date(now - 3 * day).toISOString(), to: new Date(now - 2 * day).toISOString() },
      ],
      ["text, broad (half the runs)", { text: "seed-001" }],
      ["text, narrow (1,296 runs)", { text: "seed-0012" }],
      ["text, no match", { text: "no-such-run" }],
    ];
    const byFilter = new Map<string, number[]>(filters.map(([name]) => [name, []]));
    const pages: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const [name, filter] = filters[i % filters.length]!;
      // A first page, then 0–3 pages deeper by cursor.
      let after: string | null = null;
      const depth = Math.floor(random() * 4);
      for (let d = 0; d <= depth; d++) {
        const { ms, data } = await post(PAGE, { filter, after });
        pages.push(ms);
        byFilter.get(name)!.push(ms);
        const info = (
          data as { workflows: { pageInfo: { endCursor: string | null; hasNextPage: boolean } } }
        ).workflows.pageInfo;
        if (!info.hasNextPage) break;
        after = info.endCursor;
      }
    }

    const STATS = `{ stats { counts { status count } throughput { minute started completed failed }
      backlog { queue backlog } commandBacklog projectorLag pendingTimers at } }`;
    const statsTimes: number[] = [];
    for (let i = 0; i < Math.min(REQUESTS, 300); i++) {
      statsTimes.push((await post(STATS, {})).ms);
      // Past the consumer-lag cache (1 s) now and then, as a dashboard's first paint would be.
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1100));
    }

    process.stdout.write(
      `\nread-side latency through real HTTP (${address}), ${RUNS} runs in the tables:\n`,
    );
    process.stdout.write(
      `${summary("workflow(id) with steps, timers, signals, history", detail)}\n`,
    );
    process.stdout.write(`${summary("filtered workflows page (first: 20), all filters", pages)}\n`);
    for (const [name, samples] of byFilter) process.stdout.write(`  ${summary(name, samples)}\n`);
    process.stdout.write(`${summary("stats (counts, throughput, backlogs)", statsTimes)}\n`);
    process.stdout.write(`API process RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB\n`);
    await app.close();
    await closeLiveEmitter(live);
    await lag.close();
  } finally {
    await commands.close().catch(() => undefined);
    await db.close();
    await pool.end();
    if (!values.keep) await scratch.drop();
    else process.stdout.write(`kept schema ${scratch.schema}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
