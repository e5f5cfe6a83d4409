/**
 * A step's retry policy as a sentence: "5 attempts · 1 s → ×2 → max 30 s · non-retryable: X".
 * Pure: no DOM, no React.
 */

export interface RetryPolicyShape {
  maximumAttempts: number;
  backoff: "fixed" | "exponential";
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  jitter: number;
  nonRetryableErrors: string[];
}

/** The engine's defaults (core/retry.ts DEFAULT_RETRY_POLICY; a test keeps the two equal). */
export const DEFAULT_RETRY: Readonly<RetryPolicyShape> = Object.freeze({
  maximumAttempts: 3,
  backoff: "exponential",
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
  jitter: 0,
  nonRetryableErrors: [],
});

/** "300 ms", "1 s", "1.5 s", "2 min", "1 min 30 s", "1 h". */
export function shortDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  if (ms < 3_600_000) {
    const min = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return s === 0 ? `${min} min` : `${min} min ${s} s`;
  }
  const h = Math.floor(ms / 3_600_000);
  const min = Math.round((ms % 3_600_000) / 60_000);
  return min === 0 ? `${h} h` : `${h} h ${min} min`;
}

function trim(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** The policy as registered (the step's own fields, or null), over the engine's defaults. */
export function effectiveRetry(registered: unknown): RetryPolicyShape {
  const policy: RetryPolicyShape = { ...DEFAULT_RETRY, nonRetryableErrors: [] };
  if (registered && typeof registered === "object" && !Array.isArray(registered)) {
    const r = registered as Record<string, unknown>;
    const num = (key: keyof RetryPolicyShape) => {
      const value = r[key];
      if (typeof value === "number" && Number.isFinite(value))
        (policy as unknown as Record<string, unknown>)[key] = value;
    };
    num("maximumAttempts");
    num("initialIntervalMs");
    num("backoffCoefficient");
    num("maximumIntervalMs");
    num("jitter");
    if (r.backoff === "fixed" || r.backoff === "exponential") policy.backoff = r.backoff;
    if (Array.isArray(r.nonRetryableErrors))
      policy.nonRetryableErrors = r.nonRetryableErrors.filter(
        (e): e is string => typeof e === "string",
      );
  }
  return policy;
}

/** The delays between attempts, as the decider computes them (before jitter). */
export function describeBackoff(p: RetryPolicyShape): string {
  if (p.maximumAttempts <= 1) return "no retries";
  if (p.backoff === "fixed" || p.backoffCoefficient === 1)
    return `every ${shortDuration(p.initialIntervalMs)}`;
  return [
    shortDuration(p.initialIntervalMs),
    `×${trim(p.backoffCoefficient)}`,
    `max ${shortDuration(p.maximumIntervalMs)}`,
  ].join(" → ");
}

/** "5 attempts · 1 s → ×2 → max 30 s · jitter ±10% · non-retryable: CardDeclined". */
export function describeRetry(registered: unknown): string {
  const p = effectiveRetry(registered);
  const parts = [
    `${p.maximumAttempts} ${p.maximumAttempts === 1 ? "attempt" : "attempts"}`,
    describeBackoff(p),
  ];
  if (p.jitter > 0 && p.maximumAttempts > 1) parts.push(`jitter ±${Math.round(p.jitter * 100)}%`);
  if (p.nonRetryableErrors.length > 0)
    parts.push(`non-retryable: ${p.nonRetryableErrors.join(", ")}`);
  return parts.join(" · ");
}
