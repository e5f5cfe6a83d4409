/**
 * `kill -9` of a process writing to the embedded log, at a random moment, three times over:
 * reopening loses no committed transaction, shows no part of one, never shows an uncommitted
 * record, and keeps records and consumed offsets in step.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { waitFor } from "../support/env";
import { openLog, tempDir } from "./helpers";

const CHILD = join(__dirname, "writer-child.ts");

/** Runs the writer until it reported `atLeast` more commits, kills it; returns the last one. */
async function writeThenKill(dir: string, atLeast: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
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
        const admin = kafka.admin();
        const [committed] = await admin.fetchOffsets({ groupId: "g", topics: ["in"] });
        const offset = Number(committed!.partitions[0]!.offset);
        expect(offset).toBeGreaterThan(lastReported);

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
      } finally {
        await kafka.close();
      }
    }
  } finally {
    cleanup();
  }
});
