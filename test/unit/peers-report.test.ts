import type { Percentiles, RoundResult } from "../../bench/peers/measure";
import { addUp, COMMIT_HOP, percentilesBetween } from "../../bench/peers/metric-hops";
import { hopsTable } from "../../bench/peers/report";

const p = (p50: number, p99: number, n: number): Percentiles => ({ p50, p99, n });

function round(
  target: string,
  runs: number,
  hops: Record<string, Percentiles | null>,
): RoundResult {
  return {
    target,
    round: 1,
    loadStart: [1, 1, 1],
    loadEnd: [1, 1, 1],
    burst: { workflows: 10, seconds: 1, stepsPerSecond: 30 },
    steady: {
      runs,
      rate: 10,
      seconds: 10,
      firstStep: p(1, 2, runs),
      nextStep: p(1, 2, 2 * runs),
      thirdDone: p(3, 6, runs),
      hops,
    },
    processes: [],
  };
}

/** The table's cells by row label, per target column. */
function rows(markdown: string): Map<string, string[]> {
  const lines = markdown.split("\n").slice(2);
  return new Map(
    lines.map((line) => {
      const cells = line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
      return [cells[0]!, cells.slice(1)];
    }),
  );
}

describe("bench:peers per-hop table", () => {
  it("gives the steady phase's decision transactions per step, the median over rounds", () => {
    // 100 runs of 3 steps: 240, 300 and 450 commits are 0.8, 1.0 and 1.5 per step.
    const kafka = [240, 300, 450].map((n) =>
      round("weft-kafka", 100, { "some hop": p(2, 9, 100), [COMMIT_HOP]: p(3, 12, n) }),
    );
    const embedded = round("weft-embedded", 100, { "some hop": p(1, 3, 100), [COMMIT_HOP]: null });
    const table = rows(hopsTable([...kafka, embedded]));
    expect(table.get(COMMIT_HOP)).toEqual(["3 / 12", "n/a (not recorded)"]);
    const perStep = [...table].find(([label]) =>
      label.startsWith("decision transactions per step"),
    );
    expect(perStep?.[1]).toEqual(["1.00", "n/a (not recorded)"]);
  });

  it("has no transactions row when no target records the commit hop", () => {
    const table = rows(hopsTable([round("weft-embedded", 50, { "some hop": p(1, 3, 50) })]));
    expect([...table.keys()]).toEqual(["some hop"]);
  });
});

it("adds up the histograms of several processes before taking percentiles", () => {
  // Cumulative buckets (seconds → count) of one histogram in two processes: the first saw 10
  // observations at or under 1 ms, the second 10 between 4 and 8 ms.
  const one = new Map([
    [
      "h",
      new Map([
        [0.001, 10],
        [0.004, 10],
        [0.008, 10],
        [Infinity, 10],
      ]),
    ],
  ]);
  const two = new Map([
    [
      "h",
      new Map([
        [0.001, 0],
        [0.004, 0],
        [0.008, 10],
        [Infinity, 10],
      ]),
    ],
  ]);
  const both = addUp([one, two]);
  expect([...both.get("h")!]).toEqual([
    [0.001, 10],
    [0.004, 10],
    [0.008, 20],
    [Infinity, 20],
  ]);
  const { p50, p99, n } = percentilesBetween(undefined, both.get("h")!);
  expect(n).toBe(20);
  expect(p50).toBeCloseTo(1, 5);
  expect(p99).toBeGreaterThan(4);
  expect(p99).toBeLessThanOrEqual(8);
});
