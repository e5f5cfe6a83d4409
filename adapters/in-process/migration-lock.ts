import { WaitTimeoutError } from "../../core/errors";
import type { MigrationLock, WithMigrationLock } from "../../projections/migration-lock";

/**
 * A mutex in this process, for embedded mode: the embedded log's directory lock already keeps
 * every other process out, so only this process's projector and API can meet here.
 */
export class InProcessMigrationLock implements MigrationLock {
  private tail: Promise<unknown> = Promise.resolve();

  async hold<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
    const before = this.tail;
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tail = before.then(() => mine);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const outcome = await Promise.race([before.then(() => "mine" as const), timedOut]);
      if (outcome === "timeout") {
        throw new WaitTimeoutError("the migration lock (another role is migrating)", timeoutMs);
      }
      clearTimeout(timer);
      return await work();
    } finally {
      clearTimeout(timer);
      release();
    }
  }
}

/** The in-process migration lock as a `WithMigrationLock`. */
export function inProcessMigrationLock(): WithMigrationLock {
  const lock = new InProcessMigrationLock();
  return (work) => work(lock);
}
