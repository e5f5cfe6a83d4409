/**
 * Growth of `weft dev` over a long life: what the embedded engine (decider, worker, projector
 * on SQLite, on the embedded log) costs as finished runs pile up. Batches of real 3-step runs
 * finish in a child process (dev-growth-child.ts); after each batch the child is killed
 * (SIGKILL) and started again on the same directory, and the benchmark prints, at that many
 * finished runs: the batch's throughput, restart → ready and restart → a new run completed,
 * RSS after the batch, after the restart and a second later (the restart's transient buffers
 * given back: what the process holds once running), heap after GC, and the directory's bytes on disk
 * (the log's own files and all of it), each row with the load average beside it.
 *
 *   npm run bench:dev-growth -- [--runs 10000,20000,40000] [--inflight 200] [--dir path]
 *   npm run bench:dev-growth -- --runs 200000   (one total: batches 10k, 20k, 40k, … up to it)
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000,20000,40000" },
    inflight: { type: "string", default: "200" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});

/** The totals after which to measure: a list as given, or one total doubled up to from 10k. */
function totals(spec: string): number[] {
  const list = spec.split(",").map(Number);
  if (list.length > 1) return list;
  const out: number[] = [];
  for (let n = 10_000; n < list[0]!; n *= 2) out.push(n);
  return [...out, list[0]!];
}

const TOTALS = totals(values.runs);
const INFLIGHT = Number(values.inflight);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** Bytes of every file under `dir`; and of the embedded log's own files (log*). */
function diskBytes(dir: string): { all: number; log: number } {
  let all = 0;
  let log = 0;
  for (const name of readdirSync(dir)) {
    const stat = statSync(join(dir, name));
    if (!stat.isFile()) continue;
    all += stat.size;
    if (name.startsWith("log")) log += stat.size;
  }
  return { all, log };
}

class Child {
  private buffer = "";
  private readonly waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  readonly process: ChildProcessWithoutNullStreams;

  constructor(dir: string) {
    this.process = spawn(
      process.execPath,
      ["--expose-gc", join(__dirname, "dev-growth-child.js"), dir],
      { stdio: "pipe" },
    );
    this.process.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    this.process.stdout.on("data", (d: Buffer) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const at = this.waiting.findIndex((w) => line.startsWith(w.prefix));
        if (at >= 0) this.waiting.splice(at, 1)[0]!.resolve(line);
      }
    });
  }

  next(prefix: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ prefix, resolve });
      this.process.once("exit", (code) => reject(new Error(`the child exited (${code})`)));
    });
  }

  async ask(line: string, prefix: string): Promise<string> {
    const answer = this.next(prefix);
    this.process.stdin.write(`${line}\n`);
    return (await answer).slice(prefix.length + 1);
  }

  async stat(): Promise<{ rss: number; heap: number }> {
    return JSON.parse(await this.ask("stat", "STAT")) as { rss: number; heap: number };
  }

  kill9(): Promise<void> {
    return new Promise((resolve) => {
      this.process.once("exit", () => resolve());
      this.process.kill("SIGKILL");
    });
  }
}

async function main(): Promise<void> {
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), "weft-dev-growth-"));
  console.log(`dev-growth: ${TOTALS.join(", ")} runs, ${INFLIGHT} in flight, in ${dir}`);
  console.log(
    "runs    | batch runs/s | restart→ready ms | restart→run done ms | RSS after batch MB | RSS after restart MB | RSS 1 s later MB | heap after GC MB | log MB | dir MB | load 1/5/15",
  );
  let child = new Child(dir);
  await child.next("READY");
  let done = 0;
  try {
    for (const total of TOTALS) {
      const batch = total - done;
      const ms = Number(await child.ask(`run ${batch} ${INFLIGHT}`, "DONE"));
      done = total;
      const afterBatch = await child.stat();
      await child.kill9();
      const at = Date.now();
      child = new Child(dir);
      await child.next("READY");
      const readyMs = Date.now() - at;
      await child.ask("run 1 1", "DONE");
      const firstRunMs = Date.now() - at;
      const afterRestart = await child.stat();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const settled = await child.stat();
      const disk = diskBytes(dir);
      console.log(
        [
          String(total).padEnd(7),
          String(Math.round((batch / ms) * 1000)).padStart(12),
          String(readyMs).padStart(16),
          String(firstRunMs).padStart(19),
          mb(afterBatch.rss).padStart(18),
          mb(afterRestart.rss).padStart(20),
          mb(settled.rss).padStart(16),
          mb(afterRestart.heap).padStart(16),
          mb(disk.log).padStart(6),
          mb(disk.all).padStart(6),
          load(),
        ].join(" | "),
      );
    }
  } finally {
    await child.kill9();
    if (!values.keep && !values.dir) rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
