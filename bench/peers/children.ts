/**
 * Child processes of the side-by-side benchmark: redis-server instances it owns, and its own
 * scripts (a round's driver, the BullMQ worker). Each is stopped by the pid it was given.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { freePort } from "../../test/support/tcp-proxy";

export interface Child {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

function track(child: ChildProcess, echo: boolean): Child {
  let out = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (d: Buffer) => {
      out += d.toString();
      // Keep the last 1 MB: enough to explain a failure, bounded over long runs.
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      if (echo) process.stderr.write(d);
    });
  }
  return {
    pid: child.pid!,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Waits until `out()` contains `marker`; rejects if the child exits first or on timeout. */
export function untilPrinted(c: Child, marker: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no "${marker}" from pid ${c.pid} in ${timeoutMs} ms:\n${c.output()}`));
    }, timeoutMs);
    const onData = () => {
      if (!c.output().includes(marker)) return;
      finish();
      resolve();
    };
    const onExit = (code: number | null) => {
      finish();
      reject(new Error(`pid ${c.pid} exited (${code}) before "${marker}":\n${c.output()}`));
    };
    const finish = () => {
      clearTimeout(timer);
      c.child.stdout?.off("data", onData);
      c.child.off("exit", onExit);
    };
    c.child.stdout?.on("data", onData);
    c.child.once("exit", onExit);
    onData();
  });
}

/**
 * Runs one of this folder's scripts (`name` without extension) in a child: compiled from
 * dist/ with plain node, from sources through tsx, as test/support/processes.ts does.
 */
export function spawnScript(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  options: { echoStderr?: boolean; detached?: boolean } = {},
): Child {
  const compiled = __filename.endsWith(".js");
  const entry = join(__dirname, compiled ? `${name}.js` : `${name}.ts`);
  const child = spawn(
    process.execPath,
    compiled ? [entry, ...args] : ["--import", "tsx", entry, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      // A group of its own: whatever it started can be ended with it, by its pid.
      detached: options.detached ?? false,
    },
  );
  return track(child, options.echoStderr ?? false);
}

export interface OwnedRedis extends Child {
  readonly url: string;
  readonly port: number;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
}

/**
 * A redis-server of the benchmark's own on a free loopback port, its data in a temporary
 * folder: `extra` adds settings (e.g. `--appendonly yes --appendfsync everysec`). Owned so
 * that the shared test Redis is never reconfigured.
 */
export async function startRedis(extra: string[]): Promise<OwnedRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "weft-peers-redis-"));
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--daemonize",
      "no",
      "--save",
      "",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const c = track(child, false);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (child.exitCode !== null || Date.now() > deadline) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`redis-server did not start on port ${port}:\n${c.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    ...c,
    url,
    port,
    async destroy() {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
