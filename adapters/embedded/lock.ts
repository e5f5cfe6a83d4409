import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { EmbeddedLogError } from "./errors";

/** Held while this process owns the directory; release() gives it back. */
export interface DirectoryLock {
  release(): Promise<void>;
}

const LOCK_FILE = "LOCK";

/**
 * Takes the directory for this process alone.
 *
 * On Linux the lock is an abstract Unix socket named after the directory: the kernel frees it
 * when the process dies, even by `kill -9`, so a restart never waits and two starters cannot
 * both win. The LOCK file beside the log only says who holds it. Elsewhere the LOCK file itself
 * is the lock (created exclusively; taken over when its process is gone).
 *
 * mtime-based lock files (proper-lockfile) do not fit: after `kill -9` the next start must wait
 * for the lock to go stale, and an event-loop stall longer than that period breaks the lock.
 */
export async function lockDirectory(directory: string): Promise<DirectoryLock> {
  const file = join(directory, LOCK_FILE);
  const owner = `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`;
  if (process.platform === "linux") {
    const name = `\0weft-embedded-${createHash("sha256").update(directory).digest("hex").slice(0, 32)}`;
    const server = await listen(name).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") throw heldBy(directory, file);
      throw err;
    });
    server.unref();
    writeFileSync(file, owner);
    return {
      release: () =>
        new Promise<void>((resolve) => {
          rmSync(file, { force: true });
          server.close(() => resolve());
        }),
    };
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, owner);
      closeSync(fd);
      return { release: () => Promise.resolve(rmSync(file, { force: true })) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0)
        throw heldBy(directory, file);
      const holder = readHolder(file);
      if (!holder || holder.host !== hostname() || alive(holder.pid)) throw heldBy(directory, file);
      rmSync(file, { force: true });
    }
  }
}

function listen(name: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen({ path: name, exclusive: true }, () => resolve(server));
  });
}

function readHolder(file: string): { pid: number; host: string } | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { pid: number; host: string };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function heldBy(directory: string, file: string): EmbeddedLogError {
  const holder = readHolder(file);
  const who = holder ? `process ${holder.pid} on ${holder.host}` : "another process";
  return new EmbeddedLogError(
    "DIRECTORY_LOCKED",
    `the embedded log in ${directory} is in use by ${who}; one process owns it at a time ` +
      `(stop that process, or use another directory)`,
  );
}
