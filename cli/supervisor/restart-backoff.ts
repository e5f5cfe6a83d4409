/**
 * How long the supervisor waits before it forks a crashed child again: doubling from
 * `initialMs` up to `maxMs`, counted per child slot. A child that stayed up `stableMs` had
 * recovered, so its next crash starts again from `initialMs`. Without the cap a child that
 * crash-loops (a broker down for an hour) would be retried ever more rarely; without the delay
 * it would burn the CPU its siblings need.
 */
export interface RestartBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly stableMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = Object.freeze({
  initialMs: 1000,
  maxMs: 30_000,
  stableMs: 30_000,
});

/**
 * The crash count and delay after a child of this slot exited unexpectedly, having been up
 * `upMs`; `crashes` is the slot's count of crashes in a row before this one.
 */
export function nextRestart(
  policy: RestartBackoff,
  crashes: number,
  upMs: number,
): { crashes: number; delayMs: number } {
  const inRow = upMs >= policy.stableMs ? 0 : crashes;
  // 2^inRow overflows to Infinity long after the cap; min() keeps the result finite.
  const delayMs = Math.min(policy.maxMs, policy.initialMs * 2 ** inRow);
  return { crashes: inRow + 1, delayMs };
}
