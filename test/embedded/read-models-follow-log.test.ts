/**
 * The read models and the embedded log belong together. startEmbedded on SQLite read models,
 * real files: read models whose log was deleted, that come from another directory's log, or
 * that are ahead of their log are rebuilt from the log at start (with a warning saying why),
 * never served as they were. A log corrupted in the middle refuses to start with LOG_CORRUPT;
 * `weft repair` (the CLI, a real process) says so and exits 2, and with --truncate cuts it,
 * keeping the cut bytes aside; the next start rebuilds the read models and every run the cut
 * log still knows completes (none is left waiting on a result the log lost).
 */
import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { topics } from "../../core/config";
import { ConfigError, LogCorruptError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import { ReadModelDb } from "../../projections/read-model-db";
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { type EmbeddedKafka, type EmbeddedLog, FIRST_SEGMENT } from "../../adapters/embedded";
import { MAGIC, readFrame } from "../../adapters/embedded/frames";
import { closeFixtures, echo, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { tempDir } from "./helpers";

const ROOT = join(__dirname, "..", "..");
const DB_FILE = "read-models.db";
const config = isolatedConfig();
const dirs: (() => void)[] = [];
const running = new Set<EmbeddedWeft>();

afterAll(async () => {
  for (const weft of running) await weft.stop();
  await closeFixtures();
  for (const cleanup of dirs) cleanup();
});

/** The embedded log a started Weft runs on. */
const logOf = (weft: EmbeddedWeft): EmbeddedLog => (weft.backends.transport as EmbeddedKafka).log;

function newDir(): string {
  const { dir, cleanup } = tempDir();
  dirs.push(cleanup);
  return dir;
}

/** A logger whose lines (parsed) are kept in `lines`. */
function capturingLogger(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
  );
  return { logger, lines };
}

/**
 * Starts every role but the API on `dir`, with the read models in `dir/read-models.db`: as the
 * directory's own database (the default, with DATABASE_URL unset), or given from outside.
 */
async function start(
  dir: string,
  logger?: Logger,
  database: "own" | "given" = "own",
): Promise<EmbeddedWeft> {
  const databaseUrl = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    const weft = await startEmbedded({
      dir,
      workflows: [threeSteps],
      steps: [echo],
      api: false,
      database: database === "own" ? undefined : () => ReadModelDb.sqlite(join(dir, DB_FILE)),
      sync: "never",
      config,
      logger: logger ?? capturingLogger().logger,
    });
    running.add(weft);
    return weft;
  } finally {
    process.env.DATABASE_URL = databaseUrl;
  }
}

async function stop(weft: EmbeddedWeft): Promise<void> {
  running.delete(weft);
  await weft.stop();
}

/** Starts runs `ids` and waits for each to complete. */
async function runAll(weft: EmbeddedWeft, ids: readonly string[]): Promise<void> {
  const client = await weft.connectClient();
  try {
    await Promise.all(
      ids.map((id) => client.start(threeSteps, { workflowId: id, input: { n: 1 } })),
    );
    for (const id of ids)
      await expect(client.result(id, { timeoutMs: 60_000 })).resolves.toEqual({ n: 4 });
  } finally {
    await client.close();
  }
}

/** The runs the read models show: workflow ID → status. */
async function shownRuns(dir: string): Promise<Map<string, string>> {
  const db = ReadModelDb.sqlite(join(dir, DB_FILE));
  try {
    const rows = await db.db.selectFrom("weft_runs").select(["workflow_id", "status"]).execute();
    return new Map(rows.map((r) => [r.workflow_id, r.status]));
  } finally {
    await db.close();
  }
}

/** Waits until the projector has projected the whole of history, as the log holds it now. */
async function historyProjected(weft: EmbeddedWeft, dir: string): Promise<void> {
  const log = logOf(weft);
  const history = topics.history(config);
  await waitFor("the projector to reach the end of history", async () => {
    const db = ReadModelDb.sqlite(join(dir, DB_FILE));
    try {
      const rows = await db.db
        .selectFrom("weft_projector_offsets")
        .select(["partition", "next_offset"])
        .where("topic", "=", history)
        .execute();
      const stored = new Map(rows.map((r) => [Number(r.partition), Number(r.next_offset)]));
      return Array.from(
        { length: log.partitionCount(history)! },
        (_, p) => (stored.get(p) ?? 0) === log.highWatermark(history, p),
      ).every(Boolean);
    } finally {
      await db.close();
    }
  });
}

/** Events in the read models, and history records in the log: equal when nothing is a ghost. */
async function eventCounts(weft: EmbeddedWeft, dir: string): Promise<[number, number]> {
  const log = logOf(weft);
  const history = topics.history(config);
  const inLog = Array.from({ length: log.partitionCount(history)! }, (_, p) =>
    log.highWatermark(history, p),
  ).reduce((a, b) => a + b, 0);
  const db = ReadModelDb.sqlite(join(dir, DB_FILE));
  try {
    const { rows } = await db.query<{ n: number }>("SELECT count(*) AS n FROM weft_events");
    return [Number(rows[0]!.n), inLog];
  } finally {
    await db.close();
  }
}

const rebuilt = (lines: { level: number; msg: string }[]) =>
  lines.filter((l) => l.msg.startsWith("read models rebuilt from the embedded log"));

it("rebuilds the read models empty when the log's files were deleted: no ghost runs", async () => {
  const dir = newDir();
  let weft = await start(dir);
  await runAll(weft, ["gone-1", "gone-2", "gone-3"]);
  await historyProjected(weft, dir);
  await stop(weft);
  expect([...(await shownRuns(dir)).keys()].sort()).toEqual(["gone-1", "gone-2", "gone-3"]);

  rmSync(join(dir, FIRST_SEGMENT));
  const { logger, lines } = capturingLogger();
  weft = await start(dir, logger);
  expect(rebuilt(lines)).toHaveLength(1);
  expect(rebuilt(lines)[0]!.msg).toContain("segment files (log-*.wal) were missing");
  expect(rebuilt(lines)[0]!.level).toBe(40); // warn
  expect(await shownRuns(dir)).toEqual(new Map());

  await runAll(weft, ["after-1"]);
  await historyProjected(weft, dir);
  expect(await shownRuns(dir)).toEqual(new Map([["after-1", "completed"]]));
  await stop(weft);
});

it("rebuilds read models that come from another directory's log", async () => {
  const a = newDir();
  const b = newDir();
  let weft = await start(a);
  const idA = logOf(weft).id;
  await runAll(weft, ["from-a"]);
  await historyProjected(weft, a);
  await stop(weft);
  // B's log is the longer one: its read models are not ahead, only from another log.
  weft = await start(b);
  const idB = logOf(weft).id;
  await runAll(weft, ["from-b-1", "from-b-2", "from-b-3", "from-b-4"]);
  await historyProjected(weft, b);
  await stop(weft);
  expect(idB).not.toBe(idA);

  for (const f of readdirSync(b)) if (f.startsWith(DB_FILE)) rmSync(join(b, f));
  for (const f of readdirSync(a)) if (f.startsWith(DB_FILE)) copyFileSync(join(a, f), join(b, f));
  expect([...(await shownRuns(b)).keys()]).toEqual(["from-a"]);

  const { logger, lines } = capturingLogger();
  weft = await start(b, logger);
  expect(rebuilt(lines)).toHaveLength(1);
  expect(rebuilt(lines)[0]!.msg).toContain(`they were built from log ${idA}`);
  expect(rebuilt(lines)[0]!.msg).toContain(`is log ${idB}`);
  await historyProjected(weft, b);
  expect(await shownRuns(b)).toEqual(
    new Map(["from-b-1", "from-b-2", "from-b-3", "from-b-4"].map((id) => [id, "completed"])),
  );
  const [events, records] = await eventCounts(weft, b);
  expect(events).toBe(records);
  await stop(weft);
});

it("keeps read models that match their log, and rebuilds them when they are ahead of it", async () => {
  const dir = newDir();
  let weft = await start(dir);
  await runAll(weft, ["kept-1", "kept-2"]);
  await historyProjected(weft, dir);
  await stop(weft);

  let captured = capturingLogger();
  weft = await start(dir, captured.logger);
  expect(rebuilt(captured.lines)).toEqual([]);
  await stop(weft);

  const db = ReadModelDb.sqlite(join(dir, DB_FILE));
  await db.query(
    "UPDATE weft_projector_offsets SET next_offset = next_offset + 1000 WHERE topic = $1",
    [topics.history(config)],
  );
  await db.close();
  captured = capturingLogger();
  weft = await start(dir, captured.logger);
  expect(rebuilt(captured.lines)).toHaveLength(1);
  expect(rebuilt(captured.lines)[0]!.msg).toMatch(
    /they are ahead of the log \(.*\.history partition \d+ projected up to offset \d+, the log ends at \d+/,
  );
  await historyProjected(weft, dir);
  expect(await shownRuns(dir)).toEqual(
    new Map([
      ["kept-1", "completed"],
      ["kept-2", "completed"],
    ]),
  );
  await stop(weft);
});

it("takes its own read models without a log ID for its log's; refuses them in a database given from outside", async () => {
  const dir = newDir();
  let weft = await start(dir);
  await runAll(weft, ["older-1"]);
  await historyProjected(weft, dir);
  await stop(weft);
  // As an older Weft left them: no log recorded.
  let db = ReadModelDb.sqlite(join(dir, DB_FILE));
  await db.query("DELETE FROM weft_projected_log");
  await db.close();

  const error = await start(dir, undefined, "given").catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain("not recorded as built from an embedded log");
  expect(await shownRuns(dir)).toEqual(new Map([["older-1", "completed"]]));

  const { logger, lines } = capturingLogger();
  weft = await start(dir, logger);
  expect(rebuilt(lines)).toEqual([]);
  expect(
    lines.some((l) => l.msg.startsWith("read models recorded as built from this embedded log")),
  ).toBe(true);
  expect(await shownRuns(dir)).toEqual(new Map([["older-1", "completed"]]));
  const id = logOf(weft).id;
  await stop(weft);
  db = ReadModelDb.sqlite(join(dir, DB_FILE));
  const { rows } = await db.query<{ log_id: string }>("SELECT log_id FROM weft_projected_log");
  await db.close();
  expect(rows).toEqual([{ log_id: id }]);
});

it("starts on a log whose last frame was cut in the middle, and loses nothing else", async () => {
  const dir = newDir();
  let weft = await start(dir);
  await runAll(weft, ["torn-1", "torn-2"]);
  await historyProjected(weft, dir);
  const file = join(logOf(weft).directory, FIRST_SEGMENT);
  await stop(weft);
  const data = readFileSync(file);
  let last = MAGIC.length;
  for (let pos = last; pos < data.length;) {
    const read = readFrame(data, pos);
    if (!read.ok) throw new Error(`no frame at ${pos}`);
    last = pos;
    pos = read.end;
  }
  writeFileSync(file, data.subarray(0, last + Math.ceil((data.length - last) / 2)));

  const { logger, lines } = capturingLogger();
  weft = await start(dir, logger);
  expect(logOf(weft).droppedTail).toBe(true);
  expect(
    lines.filter((l) => l.msg.startsWith("embedded log: dropped its last frame")),
  ).toHaveLength(1);
  await historyProjected(weft, dir);
  expect(await shownRuns(dir)).toEqual(
    new Map([
      ["torn-1", "completed"],
      ["torn-2", "completed"],
    ]),
  );
  const [events, records] = await eventCounts(weft, dir);
  expect(events).toBe(records);
  await stop(weft);
});

/** `weft repair` as a user runs it; resolves with its exit code and output. */
function weftRepair(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin", "weft.js"), "repair", ...args],
      { cwd: ROOT, env: { ...process.env, WEFT_LOG_LEVEL: "warn" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

it("refuses a log corrupted in the middle; weft repair --truncate cuts it; every run left completes", async () => {
  const dir = newDir();
  let weft = await start(dir);
  const ids = Array.from({ length: 40 }, (_, i) => `cut-${i}`);
  await runAll(weft, ids);
  await historyProjected(weft, dir);
  await stop(weft);

  const file = join(logOf(weft).directory, FIRST_SEGMENT);
  const original = readFileSync(file);
  const starts: number[] = [];
  for (let pos = MAGIC.length; pos < original.length;) {
    const read = readFrame(original, pos);
    if (!read.ok) throw new Error(`no frame at ${pos}`);
    starts.push(pos);
    pos = read.end;
  }
  const bad = starts[Math.floor(starts.length / 2)]!;
  const damaged = Buffer.from(original);
  damaged.writeUInt32BE(0xdeadbeef, bad + 16);
  writeFileSync(file, damaged);

  const error = await start(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(LogCorruptError);
  expect((error as LogCorruptError).code).toBe("LOG_CORRUPT");
  expect((error as Error).message).toContain(file);
  expect((error as Error).message).toContain(`at byte ${bad}`);
  expect(readFileSync(file).equals(damaged)).toBe(true);

  const looked = await weftRepair(dir);
  expect(looked.code).toBe(2);
  expect(looked.stdout).toContain(`corrupt at byte ${bad}`);
  expect(looked.stdout).toContain("--truncate");
  expect(readFileSync(file).equals(damaged)).toBe(true);

  const repaired = await weftRepair(dir, "--truncate");
  expect(repaired.code).toBe(0);
  const aside = readdirSync(logOf(weft).directory).filter((f) =>
    f.startsWith(`${FIRST_SEGMENT}.corrupt-`),
  );
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(dir, aside[0]!)).equals(damaged.subarray(bad))).toBe(true);
  expect(repaired.stdout).toContain(aside[0]);
  expect((await weftRepair(dir)).code).toBe(0);

  const { logger, lines } = capturingLogger();
  weft = await start(dir, logger);
  expect(rebuilt(lines)).toHaveLength(1);
  expect(rebuilt(lines)[0]!.msg).toContain("they were built from log");
  // Every run the cut log still knows runs to its end: none waits on a result the log lost.
  const shown = await waitFor("every run left to complete", async () => {
    await historyProjected(weft, dir);
    const runs = await shownRuns(dir);
    return runs.size > 0 && [...runs.values()].every((s) => s === "completed") && runs;
  });
  expect(shown.size).toBeLessThanOrEqual(ids.length);
  const [events, records] = await eventCounts(weft, dir);
  expect(events).toBe(records);
  expect(existsSync(join(dir, `done-markers.${logOf(weft).id}`))).toBe(true);
  await stop(weft);
});
