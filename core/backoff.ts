import { retryDelayMs } from "./retry";

/**
 * How a role waits between tries of something that failed for a reason outside it (a broker,
 * Redis or PostgreSQL unreachable, a coordinator moving): exponential from `initialMs`,
 * doubling, capped at `maxMs`, and each delay moved at random by up to `jitter` of itself, so
 * that processes that lost the same dependency together do not all come back in step.
 */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** 0–1: the fraction by which a delay may move either way. */
  readonly jitter: number;
}

/** Waiting for a dependency: about 0.25 s, 0.5 s, 1 s, … then about every 5 s. */
export const DEPENDENCY_BACKOFF: Backoff = Object.freeze({
  initialMs: 250,
  maxMs: 5000,
  jitter: 0.3,
});

/**
 * The delay before try `failures + 1` after `failures` (≥ 1) failed tries: at most
 * `maxMs · (1 + jitter)`. The same formula as a step's retry policy (core/retry.ts).
 */
export function backoffMs(backoff: Backoff, failures: number, random: () => number = Math.random) {
  return retryDelayMs(
    {
      maximumAttempts: Number.MAX_SAFE_INTEGER,
      backoff: "exponential",
      initialIntervalMs: backoff.initialMs,
      backoffCoefficient: 2,
      maximumIntervalMs: backoff.maxMs,
      jitter: backoff.jitter,
      nonRetryableErrors: [],
    },
    Math.max(1, failures),
    random,
  );
}

/** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
