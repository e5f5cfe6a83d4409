/** Something that holds a lock while `work` runs. */
export interface MigrationLock {
  hold<T>(work: () => Promise<T>, timeoutMs: number): Promise<T>;
}

/**
 * Runs `work` under the migration lock of an installation: the Redis lock (a client of its own
 * for the while), or the in-process one in embedded mode.
 */
export type WithMigrationLock = <T>(work: (lock: MigrationLock) => Promise<T>) => Promise<T>;
