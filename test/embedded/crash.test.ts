/**
 * `kill -9` of a process writing to the embedded log, at a random moment, three times over:
 * reopening loses no committed transaction, shows no part of one, never shows an uncommitted
 * record, and keeps records and consumed offsets in step. Then the same with the last frame cut
 * in the middle, as a kill during its write leaves it: the log opens, without that transaction
 * only. And with a log that rolls segments every few rounds, so kills land around rolls.
 */
import { spawn } from "node:child_process";
import { readFileSync, realpathSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { type EmbeddedKafka, FIRST_SEGMENT } from "../../adapters/embedded";
import { MAGIC, readFrame } from "../../adapters/embedded/frames";
import { waitFor } from "../support/env";
import { openLog, tempDir } from "./helpers";

const CHILD = join(__dirname, "writer-child.ts");

/** Runs the writer until it reported `atLeast` more commits, kills it; returns the last one. */
async function writeThenKill(dir: string, atLeast: number, segmentBytes?: number): Promise<number> {
  const args = segmentBytes === undefined ? [dir] : [dir, String(segmentBytes)];
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    cwd: join(__dirname, "..", ".."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const reported = () => [...out.matchAll(/committed (\d+)\n/g)].map((m) => Number(m[1]));
  try {
    await waitFor(
      `the writer to commit ${atLeast} times (stderr: ${err})`,
      () => reported().length >= atLeast,
      60_000,
      5,
    );
    // The directory is the writer's while it lives.
    await expect(openLog(dir)).rejects.toThrow(`in use by process ${child.pid}`);
    // Somewhere in the middle of the next rounds.
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20)));
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
  return Math.max(...reported());
}

it("loses nothing committed and shows nothing uncommitted after kill -9", async () => {
  const { dir, cleanup } = tempDir();
  try {
    let lastReported = -1;
    for (let i = 0; i < 3; i++) {
      lastReported = await writeThenKill(dir, 200);

      const kafka = await openLog(dir);
      try {
        expect(await committedRounds(kafka)).toBeGreaterThan(lastReported);
      } finally {
        await kafka.close();
      }
    }
  } finally {
    cleanup();
  }
});

it("loses nothing committed after kill -9 of a writer that rolls segments every few rounds", async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (let i = 0; i < 3; i++) {
      // About 15 rounds a segment: a kill lands in or near a roll.
      const lastReported = await writeThenKill(dir, 150, 2048);
      const kafka = await openLog(dir);
      try {
        expect(kafka.log.segmentIds().length).toBeGreaterThan(5 * (i + 1));
        expect(await committedRounds(kafka)).toBeGreaterThan(lastReported);
      } finally {
        await kafka.close();
      }
    }
  } finally {
    cleanup();
  }
});

/**
 * Checks that the log holds whole rounds only, every one below the committed offset of group
 * "g" and none beyond it, and nothing uncommitted; returns that offset.
 */
async function committedRounds(kafka: EmbeddedKafka): Promise<number> {
  const admin = kafka.admin();
  const [committed] = await admin.fetchOffsets({ groupId: "g", topics: ["in"] });
  const offset = Number(committed!.partitions[0]!.offset);
  const values: string[] = [];
  for (const partition of [0, 1]) {
    const high = kafka.log.highWatermark("out", partition);
    for (const r of kafka.log.read("out", partition, 0, Number.MAX_SAFE_INTEGER))
      values.push(r.value!.toString());
    expect(values.length).toBeGreaterThan(0);
    expect(high).toBeGreaterThan(0);
  }
  expect(values.filter((v) => v.startsWith("open-"))).toEqual([]);
  const rounds = new Map<number, number>();
  for (const v of values) {
    const round = Number(/^tx-(\d+)-\d$/.exec(v)![1]);
    rounds.set(round, (rounds.get(round) ?? 0) + 1);
  }
  // Every round below the committed offset is there, whole; none beyond it.
  expect([...rounds.keys()].sort((a, b) => a - b)).toEqual(
    Array.from({ length: offset }, (_, n) => n),
  );
  expect([...rounds.values()].every((n) => n === 3)).toBe(true);
  return offset;
}

it("opens a log whose last frame a kill cut short, without that transaction only", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const lastReported = await writeThenKill(dir, 200);
    let kafka = await openLog(dir);
    const before = await committedRounds(kafka);
    await kafka.close();
    expect(before).toBeGreaterThan(lastReported);

    // Cut the last frame (the last round's transaction) somewhere inside it.
    const file = join(realpathSync(dir), FIRST_SEGMENT);
    const data = readFileSync(file);
    let last = MAGIC.length;
    for (let pos = last; pos < data.length;) {
      const read = readFrame(data, pos);
      if (!read.ok) throw new Error(`the log should be whole after kill -9, not at ${pos}`);
      last = pos;
      pos = read.end;
    }
    truncateSync(file, last + 1 + Math.floor(Math.random() * (data.length - last - 1)));

    kafka = await openLog(dir);
    try {
      expect(kafka.log.droppedTail).toBe(true);
      expect(await committedRounds(kafka)).toBe(before - 1);
    } finally {
      await kafka.close();
    }
  } finally {
    cleanup();
  }
});
