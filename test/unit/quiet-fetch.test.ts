/**
 * The quiet fetching of task partitions (workers/quiet-fetch.ts): a covered partition is
 * paused after each catch-up's batch and resumed at the next catch-up; a wake or a rebalance
 * resumes it at once; an uncovered partition is never paused; nothing resumes once stopped.
 */
import { QuietFetch } from "../../workers/quiet-fetch";

function quietFetch(covered: Set<number>) {
  const calls: string[] = [];
  let active = true;
  let quietCount = 0;
  const quiet = new QuietFetch({
    covered: (p) => covered.has(p),
    pause: (p) => calls.push(`pause ${p}`),
    resume: (p) => calls.push(`resume ${p}`),
    active: () => active,
    onQuiet: (n) => (quietCount = n),
  });
  return {
    quiet,
    calls,
    stop: () => (active = false),
    quietCount: () => quietCount,
  };
}

it("pauses a covered partition once a catch-up's batch is handled, and resumes it at the next", () => {
  const { quiet, calls, quietCount } = quietFetch(new Set([0, 1]));
  // Before any catch-up, a batch pauses nothing: the partition fetches as usual.
  quiet.handled(0);
  expect(calls).toEqual([]);
  quiet.tick([0, 1, 2]);
  quiet.handled(0);
  quiet.handled(2);
  expect(calls).toEqual(["pause 0"]);
  expect(quiet.isQuiet(0)).toBe(true);
  expect(quiet.isQuiet(1)).toBe(false);
  expect(quietCount()).toBe(1);
  // A second batch of the same catch-up changes nothing; the next catch-up resumes it.
  quiet.handled(0);
  quiet.tick([0, 1, 2]);
  expect(calls).toEqual(["pause 0", "resume 0"]);
  expect(quiet.isQuiet(0)).toBe(false);
  quiet.handled(0);
  quiet.handled(1);
  expect(calls).toEqual(["pause 0", "resume 0", "pause 0", "pause 1"]);
  expect(quietCount()).toBe(2);
});

it("fetches a partition as usual once the decider beside it no longer covers it", () => {
  const covered = new Set([0]);
  const { quiet, calls } = quietFetch(covered);
  quiet.tick([0]);
  quiet.handled(0);
  covered.delete(0);
  quiet.tick([0]);
  quiet.handled(0);
  expect(calls).toEqual(["pause 0", "resume 0"]);
  expect(quiet.isQuiet(0)).toBe(false);
});

it("resumes a quiet partition at once when a task offered there was not run, until the next catch-up", () => {
  const { quiet, calls } = quietFetch(new Set([0]));
  quiet.tick([0]);
  quiet.handled(0);
  quiet.wake(0);
  // The wake ended this catch-up: the batches that follow do not pause it again.
  quiet.handled(0);
  expect(calls).toEqual(["pause 0", "resume 0"]);
  // A wake while the partition catches up cancels the pause that would follow.
  quiet.tick([0]);
  quiet.wake(0);
  quiet.handled(0);
  expect(calls).toEqual(["pause 0", "resume 0"]);
  expect(quiet.isQuiet(0)).toBe(false);
});

it("resumes every quiet partition when the group deals partitions again", () => {
  const { quiet, calls, quietCount } = quietFetch(new Set([0, 1]));
  quiet.tick([0, 1]);
  quiet.handled(0);
  quiet.handled(1);
  quiet.reset();
  expect(calls).toEqual(["pause 0", "pause 1", "resume 0", "resume 1"]);
  expect(quietCount()).toBe(0);
  // A batch of a catch-up begun before the rebalance pauses nothing.
  quiet.handled(0);
  expect(calls).toHaveLength(4);
});

it("resumes nothing once the worker stops: its consumer stays paused for good", () => {
  const { quiet, calls, stop } = quietFetch(new Set([0]));
  quiet.tick([0]);
  quiet.handled(0);
  stop();
  quiet.tick([0]);
  quiet.wake(0);
  quiet.reset();
  expect(calls).toEqual(["pause 0"]);
});
