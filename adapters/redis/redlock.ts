import type { Redis } from "ioredis";

/*
 * redlock 5's package exports hide its type declarations from `moduleResolution: node16`, so
 * the few parts Weft uses are typed here (after its dist/index.d.ts) and loaded at runtime.
 */

export interface RedlockSettings {
  readonly driftFactor: number;
  readonly retryCount: number;
  readonly retryDelay: number;
  readonly retryJitter: number;
  readonly automaticExtensionThreshold: number;
}

export interface ExecutionStats {
  readonly membershipSize: number;
  readonly quorumSize: number;
  readonly votesFor: Set<Redis>;
  readonly votesAgainst: Map<Redis, Error>;
}

export interface Lock {
  readonly resources: string[];
  readonly value: string;
  expiration: number;
  /** Resolves with the extended lock (the old one is invalid afterwards). */
  extend(duration: number): Promise<Lock>;
  release(): Promise<unknown>;
}

export interface Redlock {
  acquire(
    resources: string[],
    duration: number,
    settings?: Partial<RedlockSettings>,
  ): Promise<Lock>;
  on(event: "error", listener: (err: unknown) => void): this;
}

interface RedlockModule {
  default: new (clients: Iterable<Redis>, settings?: Partial<RedlockSettings>) => Redlock;
  Lock: new (
    redlock: Redlock,
    resources: string[],
    value: string,
    attempts: ReadonlyArray<Promise<ExecutionStats>>,
    expiration: number,
  ) => Lock;
  ResourceLockedError: new (message: string) => Error;
  ExecutionError: new (
    message: string,
    attempts: ReadonlyArray<Promise<ExecutionStats>>,
  ) => Error & {
    readonly attempts: ReadonlyArray<Promise<ExecutionStats>>;
  };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const redlockModule = require("redlock") as RedlockModule;

export function createRedlock(
  clients: Iterable<Redis>,
  settings?: Partial<RedlockSettings>,
): Redlock {
  return new redlockModule.default(clients, settings);
}

/**
 * A lock on `resource` that was taken outside redlock with `value` (SET NX PX, as redlock's
 * own acquire does): redlock extends and releases it by that value.
 */
export function redlockLock(
  redlock: Redlock,
  resource: string,
  value: string,
  expiration: number,
): Lock {
  return new redlockModule.Lock(redlock, [resource], value, [], expiration);
}

/** Thrown (or voted) when a resource is locked by someone else. */
export const ResourceLockedError = redlockModule.ResourceLockedError;
/** Thrown when an operation did not reach a quorum; `attempts` holds the votes. */
export const ExecutionError = redlockModule.ExecutionError;

/** True when a redlock failure means "locked by someone else" rather than "Redis failed". */
export async function lockedByOther(err: unknown): Promise<boolean> {
  if (err instanceof ResourceLockedError) return true;
  const attempts = (err as { attempts?: ReadonlyArray<Promise<ExecutionStats>> }).attempts;
  if (!attempts || attempts.length === 0) return false;
  const stats = await Promise.all(attempts).catch(() => []);
  const errors = stats.flatMap((s) => [...s.votesAgainst.values()]);
  return errors.length > 0 && errors.every((e) => e instanceof ResourceLockedError);
}

/** The reasons of a redlock failure: each vote against, or the error itself. */
export async function redlockFailure(err: unknown): Promise<string> {
  const attempts = (err as { attempts?: ReadonlyArray<Promise<ExecutionStats>> }).attempts;
  const stats = await Promise.all(attempts ?? []).catch(() => []);
  const reasons = new Set(
    stats.flatMap((s) => [...s.votesAgainst.values()].map((e) => `${e.name}: ${e.message}`)),
  );
  return reasons.size > 0 ? [...reasons].join("; ") : (err as Error).message;
}
