import { ConfigError } from "../../core/errors";
import { resolveRetryPolicy, retryDelayMs, shouldRetry } from "../../core/retry";

describe("retry policies", () => {
  it("computes fixed and exponential delays with a cap", () => {
    const fixed = resolveRetryPolicy({ backoff: "fixed", initialIntervalMs: 250 });
    expect([1, 2, 3].map((a) => retryDelayMs(fixed, a))).toEqual([250, 250, 250]);
    const exp = resolveRetryPolicy({
      initialIntervalMs: 100,
      backoffCoefficient: 3,
      maximumIntervalMs: 500,
    });
    expect([1, 2, 3, 4].map((a) => retryDelayMs(exp, a))).toEqual([100, 300, 500, 500]);
  });

  it("applies jitter within its fraction", () => {
    const p = resolveRetryPolicy({ backoff: "fixed", initialIntervalMs: 1000, jitter: 0.2 });
    expect(retryDelayMs(p, 1, () => 0)).toBe(800);
    expect(retryDelayMs(p, 1, () => 0.999999)).toBe(1200);
  });

  it("never retries terminal or listed errors, and stops at maximumAttempts", () => {
    const p = resolveRetryPolicy({ maximumAttempts: 3, nonRetryableErrors: ["ValidationError"] });
    expect(shouldRetry(p, 1, { name: "Error", terminal: false })).toBe(true);
    expect(shouldRetry(p, 3, { name: "Error", terminal: false })).toBe(false);
    expect(shouldRetry(p, 1, { name: "Error", terminal: true })).toBe(false);
    expect(shouldRetry(p, 1, { name: "ValidationError", terminal: false })).toBe(false);
  });

  it("later layers override earlier ones and bad values are refused with the fix", () => {
    expect(resolveRetryPolicy({ maximumAttempts: 9 }, { maximumAttempts: 2 }).maximumAttempts).toBe(
      2,
    );
    expect(() => resolveRetryPolicy({ backoffCoefficient: 0.5 })).toThrow(ConfigError);
    expect(() => resolveRetryPolicy({ maximumAttempts: 0 })).toThrow(
      /maximumAttempts must be an integer ≥ 1/,
    );
  });
});
