/** dashboard/src/retry-policy.ts: a registered retry policy as the Definitions page says it. */
import { DEFAULT_RETRY_POLICY } from "../../core/retry";
import {
  DEFAULT_RETRY,
  describeRetry,
  effectiveRetry,
  shortDuration,
} from "../../dashboard/src/retry-policy";

it("keeps the engine's defaults", () => {
  expect(DEFAULT_RETRY).toEqual(DEFAULT_RETRY_POLICY);
  expect(effectiveRetry(null)).toEqual(DEFAULT_RETRY_POLICY);
});

it("says attempts, backoff, cap, jitter and the errors never retried", () => {
  expect(
    describeRetry({
      maximumAttempts: 5,
      initialIntervalMs: 1000,
      maximumIntervalMs: 30_000,
      nonRetryableErrors: ["CardDeclinedError"],
    }),
  ).toBe("5 attempts · 1 s → ×2 → max 30 s · non-retryable: CardDeclinedError");
  expect(describeRetry(null)).toBe("3 attempts · 1 s → ×2 → max 1 min");
  expect(describeRetry({ backoff: "fixed", initialIntervalMs: 200, maximumAttempts: 3 })).toBe(
    "3 attempts · every 200 ms",
  );
  expect(describeRetry({ maximumAttempts: 1 })).toBe("1 attempt · no retries");
  expect(describeRetry({ backoffCoefficient: 1.5, jitter: 0.1, initialIntervalMs: 1500 })).toBe(
    "3 attempts · 1.5 s → ×1.5 → max 1 min · jitter ±10%",
  );
  // Fields of the wrong type fall back to the defaults.
  expect(describeRetry({ maximumAttempts: "many", backoff: "linear" })).toBe(
    "3 attempts · 1 s → ×2 → max 1 min",
  );
});

it("writes short durations", () => {
  expect(shortDuration(250)).toBe("250 ms");
  expect(shortDuration(1000)).toBe("1 s");
  expect(shortDuration(1500)).toBe("1.5 s");
  expect(shortDuration(90_000)).toBe("1 min 30 s");
  expect(shortDuration(3_600_000)).toBe("1 h");
});
