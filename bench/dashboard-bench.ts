/**
 * The dashboard under load: N runs in the read models (bench/seed-runs.ts), a decider, a worker
 * and a projector as child processes taking `threeSteps` runs at a fixed start rate, the API in
 * this process, and headless Chromium on the overview and runs pages. Prints each page's first
 * paint with data (from navigation start to the render that shows the data, as the page marks
 * it), then every 30 s for M minutes the JS heap of each open
 * page after a forced GC, the live messages it received and how far behind now it shows.
 *
 *   npm run bench:dashboard -- --runs 100000 --rate 100 --minutes 5
 */
import { parseArgs } from "node:util";
import { createTestSchema } from "../test/support/postgres";
import type { BrowserContext, Page } from "playwright-core";
import { loadConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { createPool } from "../projections/database";
import { migrate } from "../projections/migrate";
import { ReadModelDb } from "../projections/read-model-db";
import { WeftClient } from "../sdk/client";
import { startRuntime } from "../sdk/runtime";
import { ensureDashboardBuilt, launchBrowser } from "../test/dashboard/browser";
import { spawnRoles, type RoleProcess } from "../test/support/processes";
import { seedRuns } from "./seed-runs";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "100000" },
    rate: { type: "string", default: "100" },
    minutes: { type: "string", default: "5" },
    loads: { type: "string", default: "5" },
    "sample-seconds": { type: "string", default: "30" },
  },
});
const RUNS = Number(values.runs);
const RATE = Number(values.rate);
const MINUTES = Number(values.minutes);
const LOADS = Number(values.loads);
const SAMPLE_MS = Number(values["sample-seconds"]) * 1000;

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Navigation to the page's data on screen, and Chromium's first contentful paint. */
async function firstPaint(
  context: BrowserContext,
  url: string,
): Promise<{ ready: number; wall: number; fcp: number; query: number }> {
  const page = await context.newPage();
  try {
    const t0 = Date.now();
    await page.goto(url);
    await page.locator("[data-ready]").first().waitFor({ timeout: 30_000 });
    const wall = Date.now() - t0;
    // When the page first showed its data, from navigation start (dashboard marks it).
    const marked = await page.evaluate<number>(
      "performance.getEntriesByName('weft:data')[0]?.startTime ?? -1",
    );
    const ready = marked >= 0 ? Math.round(marked) : wall;
    const fcp = await page.evaluate<number>(
      "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1",
    );
    // The slowest first-paint query, as the browser timed it (request sent to response read).
    const query = await page.evaluate<number>(
      "Math.max(0, ...performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/graphql')).map((e) => e.duration))",
    );
    return { ready, wall, fcp, query };
  } finally {
    await page.close();
  }
}

async function heapUsed(context: BrowserContext, page: Page): Promise<number> {
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send("HeapProfiler.collectGarbage");
    const usage = await cdp.send("Runtime.getHeapUsage");
    return usage.usedSize;
  } finally {
    await cdp.detach();
  }
}

/** How far behind now the page shows: the newest run's start, or the stats' time. */
async function behindMs(page: Page, selector: string): Promise<number> {
  const iso = await page.locator(selector).first().getAttribute("datetime", { timeout: 5000 });
  return iso ? Date.now() - Date.parse(iso) : Number.NaN;
}

async function main(): Promise<void> {
  ensureDashboardBuilt();
  const scratch = await createTestSchema();
  const config = loadConfig({
    topicPrefix: `dbench${Date.now().toString(36)}`,
    databaseUrl: scratch.databaseUrl,
    logLevel: "warn",
  });
  const logger = createLogger("warn");
  const processes: RoleProcess[] = [];
  let stopLoad = false;
  const pool = createPool(config, logger, { max: 4 });
  try {
    await migrate(pool);
    const seedStart = Date.now();
    await seedRuns(ReadModelDb.postgres(pool), RUNS, logger, {
      onProgress: (done) => {
        if (done % 20_000 === 0) process.stdout.write(`  seeded ${done} runs\n`);
      },
    });
    console.log(`seeded ${RUNS} runs in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    await pool.query("ANALYZE");

    processes.push(await spawnRoles(config, "decider"));
    processes.push(await spawnRoles(config, "worker", { WEFT_WORKER_CONCURRENCY: "256" }));
    processes.push(await spawnRoles(config, "projector", { DATABASE_URL: scratch.databaseUrl }));
    const api = await startRuntime({
      config,
      logger,
      roles: ["api"],
      api: { port: 0, tokens: { admin: [], read: [] } },
    });
    const base = api.api!.address;

    // The load: threeSteps starts at a fixed rate, open loop, for as long as the bench runs.
    const sender = await WeftClient.connect({ config, logger });
    let sent = 0;
    let failed = 0;
    const load = (async () => {
      const t0 = Date.now();
      while (!stopLoad) {
        const wait = t0 + (sent * 1000) / RATE - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        sent++;
        sender.start("threeSteps", { input: { n: sent } }).catch(() => failed++);
      }
    })();
    await new Promise((r) => setTimeout(r, 10_000));
    console.log(`load: ${RATE} starts/s of threeSteps (3 steps each), ${sent} sent so far`);

    const browser = await launchBrowser();
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      for (const [name, path] of [
        ["overview", "/"],
        ["runs", "/runs"],
      ] as const) {
        const samples: { ready: number; wall: number; fcp: number; query: number }[] = [];
        for (let i = 0; i < LOADS; i++) samples.push(await firstPaint(context, `${base}${path}`));
        const ready = samples.map((s) => s.ready).sort((a, b) => a - b);
        const fcp = samples.map((s) => s.fcp).sort((a, b) => a - b);
        const query = samples.map((s) => s.query).sort((a, b) => a - b);
        const wall = samples.map((s) => s.wall).sort((a, b) => a - b);
        const mid = Math.floor(LOADS / 2);
        console.log(
          `first paint, ${name}: data on screen median ${ready[mid]} ms, max ${ready.at(-1)} ms ` +
            `(first contentful paint median ${Math.round(fcp[mid]!)} ms, slowest query median ${Math.round(query[mid]!)} ms, ` +
            `navigation call to data seen by the test median ${wall[mid]} ms; ` +
            `${LOADS} loads: ${samples.map((s) => s.ready).join(", ")} ms)`,
        );
      }

      const overview = await context.newPage();
      await overview.goto(`${base}/`);
      await overview.locator("[data-ready]").waitFor();
      const runs = await context.newPage();
      await runs.goto(`${base}/runs`);
      await runs.locator("[data-ready]").waitFor();
      const pages = [
        { name: "overview", page: overview, newest: "[data-page=overview] .page-head time" },
        { name: "runs", page: runs, newest: "tr[data-run] td:nth-child(4) time" },
      ];
      const first = new Map<string, number>();
      const last = new Map<string, number>();
      console.log(`live for ${MINUTES} min, a sample every ${SAMPLE_MS / 1000} s:`);
      const until = Date.now() + MINUTES * 60_000;
      const t0 = Date.now();
      for (;;) {
        const parts: string[] = [];
        for (const p of pages) {
          await p.page.bringToFront();
          const heap = await heapUsed(context, p.page);
          if (!first.has(p.name)) first.set(p.name, heap);
          last.set(p.name, heap);
          const messages = await p.page.evaluate<number>("window.__weftLive?.messages ?? 0");
          const behind = await behindMs(p.page, p.newest);
          parts.push(
            `${p.name} heap ${mb(heap)} MB, ${messages} live messages, ${(behind / 1000).toFixed(1)} s behind`,
          );
        }
        const at = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
        console.log(`  t=${at} s  ${parts.join(" | ")}  (starts sent ${sent}, failed ${failed})`);
        if (Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, Math.min(SAMPLE_MS, until - Date.now())));
      }
      for (const p of pages) {
        const a = first.get(p.name)!;
        const b = last.get(p.name)!;
        console.log(
          `heap, ${p.name}: ${mb(a)} MB at the start, ${mb(b)} MB after ${MINUTES} min (${b >= a ? "+" : ""}${mb(b - a)} MB)`,
        );
      }
    } finally {
      await browser.close();
    }
    stopLoad = true;
    await load;
    await sender.close();
    await api.stop();
  } finally {
    stopLoad = true;
    for (const proc of processes) await proc.stop().catch(() => proc.kill9());
    await pool.end();
    await scratch.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
