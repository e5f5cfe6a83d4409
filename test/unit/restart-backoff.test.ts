import { DEFAULT_RESTART_BACKOFF, nextRestart } from "../../cli/supervisor/restart-backoff";

const policy = { initialMs: 100, maxMs: 1000, stableMs: 5000 };

it("doubles the delay for each crash in a row, up to the cap", () => {
  const delays: number[] = [];
  let crashes = 0;
  for (let i = 0; i < 7; i++) {
    const next = nextRestart(policy, crashes, 10);
    delays.push(next.delayMs);
    crashes = next.crashes;
  }
  expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  expect(crashes).toBe(7);
});

it("starts again from the first delay after a child stayed up long enough", () => {
  expect(nextRestart(policy, 6, 4999)).toEqual({ crashes: 7, delayMs: 1000 });
  expect(nextRestart(policy, 6, 5000)).toEqual({ crashes: 1, delayMs: 100 });
});

it("stays finite however long a child crash-loops", () => {
  expect(nextRestart(DEFAULT_RESTART_BACKOFF, 10_000, 0).delayMs).toBe(
    DEFAULT_RESTART_BACKOFF.maxMs,
  );
});
