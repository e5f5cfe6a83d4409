/** A timer armed on a Clock; `cancel` is safe to call after it fired. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Where a role reads the time and arms timers: the decider (event times, durable timers,
 * retry backoff) and the worker (report times). The system clock is the default; the test kit
 * gives a virtual clock that skips ahead when nothing is in flight. Workflow code never sees a
 * clock: it reads the time of the event being replayed (`ctx.now()`).
 */
export interface Clock {
  now(): number;
  /**
   * Calls `fn` once `ms` have passed on this clock. `fn` may return a promise: a virtual
   * clock counts the work as in flight until it settles (the system clock ignores it).
   */
  setTimer(fn: () => unknown, ms: number): ClockTimer;
}

/** setTimeout's limit; longer timers are armed again when they wake early. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(fn: () => unknown, ms: number): ClockTimer {
    const handle = setTimeout(fn, Math.max(0, Math.min(ms, MAX_TIMEOUT_MS)));
    return { cancel: () => clearTimeout(handle) };
  },
});
