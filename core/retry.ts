import { ConfigError } from "./errors";

/** How a failed step attempt is retried. Fixed or exponential backoff; jitter is a fraction. */
export interface RetryPolicy {
  maximumAttempts?: number;
  backoff?: "fixed" | "exponential";
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
  /** 0–1: each delay is moved at random by up to this fraction, to spread retry storms. */
  jitter?: number;
  /** Error names never retried, in addition to TerminalError. */
  nonRetryableErrors?: string[];
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = Object.freeze({
  maximumAttempts: 3,
  backoff: "exponential",
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
  jitter: 0,
  nonRetryableErrors: [],
});

/** Later policies override earlier ones field by field; the result is validated. */
export function resolveRetryPolicy(...layers: (RetryPolicy | undefined)[]): ResolvedRetryPolicy {
  const merged: ResolvedRetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
    }
  }
  validate(merged);
  return merged;
}

function validate(p: ResolvedRetryPolicy): void {
  const bad = (what: string) => {
    throw new ConfigError(`retry policy: ${what}`);
  };
  if (!Number.isInteger(p.maximumAttempts) || p.maximumAttempts < 1) {
    bad(`maximumAttempts must be an integer ≥ 1, got ${p.maximumAttempts}`);
  }
  if (p.backoff !== "fixed" && p.backoff !== "exponential") {
    bad(`backoff must be "fixed" or "exponential", got ${JSON.stringify(p.backoff)}`);
  }
  if (!(p.initialIntervalMs >= 0)) bad(`initialIntervalMs must be ≥ 0, got ${p.initialIntervalMs}`);
  if (!(p.backoffCoefficient >= 1))
    bad(`backoffCoefficient must be ≥ 1, got ${p.backoffCoefficient}`);
  if (!(p.maximumIntervalMs >= p.initialIntervalMs)) {
    bad(
      `maximumIntervalMs (${p.maximumIntervalMs}) must be ≥ initialIntervalMs (${p.initialIntervalMs})`,
    );
  }
  if (!(p.jitter >= 0 && p.jitter <= 1)) bad(`jitter must be within 0–1, got ${p.jitter}`);
}

/**
 * Delay before the attempt after `failedAttempt` (1-based). `random` is injected so the
 * decider records the chosen delay in history and replay never recomputes it.
 */
export function retryDelayMs(
  policy: ResolvedRetryPolicy,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const base =
    policy.backoff === "fixed"
      ? policy.initialIntervalMs
      : policy.initialIntervalMs * policy.backoffCoefficient ** (failedAttempt - 1);
  const capped = Math.min(base, policy.maximumIntervalMs);
  const jittered = capped * (1 + policy.jitter * (random() * 2 - 1));
  return Math.max(0, Math.round(jittered));
}

export function shouldRetry(
  policy: ResolvedRetryPolicy,
  failedAttempt: number,
  error: { name: string; terminal: boolean },
): boolean {
  if (error.terminal || policy.nonRetryableErrors.includes(error.name)) return false;
  return failedAttempt < policy.maximumAttempts;
}
