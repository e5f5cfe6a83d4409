/**
 * The side-by-side benchmark's tables, in Markdown so that they can be pasted into the docs:
 * each round, the medians over rounds, the ratios Weft / BullMQ, each process's cost, and
 * Weft's per-hop breakdown.
 */
import { median, type Percentiles, type RoundResult } from "./measure";
import { COMMIT_HOP } from "./metric-hops";

const int = (v: number) => (Number.isNaN(v) ? "n/a" : Math.round(v).toLocaleString("en-US"));
const fixed = (v: number, digits: number) => (Number.isNaN(v) ? "n/a" : v.toFixed(digits));
const pair = (p: Percentiles) => `${int(p.p50)} / ${int(p.p99)}`;
const load = (l: readonly number[]) => fixed(l[0] ?? NaN, 2);

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

const totalCpu = (r: RoundResult) => r.processes.reduce((s, p) => s + p.cpuSeconds, 0);
const totalRss = (r: RoundResult) => r.processes.reduce((s, p) => s + p.peakRssMb, 0);
/** CPU ms of every process per completed step, over both phases. */
const cpuPerStep = (r: RoundResult) =>
  (totalCpu(r) * 1000) / (3 * (r.burst.workflows + r.steady.runs));

/** One row per round and target, in the order they ran. */
export function roundsTable(results: readonly RoundResult[]): string {
  return table(
    [
      "round",
      "target",
      "load 1 min, start → end",
      "steps/s (burst)",
      "start → first step p50 / p99 ms",
      "step → next step p50 / p99 ms",
      "start → third step done p50 / p99 ms",
      "CPU s, all processes",
      "CPU ms / step",
      "peak RSS MB, sum",
    ],
    results.map((r) => [
      String(r.round),
      r.target,
      `${load(r.loadStart)} → ${load(r.loadEnd)}`,
      int(r.burst.stepsPerSecond),
      pair(r.steady.firstStep),
      pair(r.steady.nextStep),
      pair(r.steady.thirdDone),
      fixed(totalCpu(r), 1),
      fixed(cpuPerStep(r), 2),
      int(totalRss(r)),
    ]),
  );
}

function byTarget(results: readonly RoundResult[]): Map<string, RoundResult[]> {
  const out = new Map<string, RoundResult[]>();
  for (const r of results) out.set(r.target, [...(out.get(r.target) ?? []), r]);
  return out;
}

interface Medians {
  stepsPerSecond: number;
  first: Percentiles;
  next: Percentiles;
  third: Percentiles;
  cpu: number;
  cpuPerStep: number;
  rss: number;
  loads: string;
}

function medians(rounds: readonly RoundResult[]): Medians {
  const m = (pick: (r: RoundResult) => number) => median(rounds.map(pick));
  const p = (pick: (r: RoundResult) => Percentiles): Percentiles => ({
    p50: m((r) => pick(r).p50),
    p99: m((r) => pick(r).p99),
    n: m((r) => pick(r).n),
  });
  const loads = rounds.flatMap((r) => [r.loadStart[0]!, r.loadEnd[0]!]);
  return {
    stepsPerSecond: m((r) => r.burst.stepsPerSecond),
    first: p((r) => r.steady.firstStep),
    next: p((r) => r.steady.nextStep),
    third: p((r) => r.steady.thirdDone),
    cpu: m(totalCpu),
    cpuPerStep: m(cpuPerStep),
    rss: m(totalRss),
    loads: `${fixed(Math.min(...loads), 2)}–${fixed(Math.max(...loads), 2)}`,
  };
}

/** The median over rounds of each figure, per target. */
export function mediansTable(results: readonly RoundResult[]): string {
  const rows = [...byTarget(results)].map(([target, rounds]) => {
    const m = medians(rounds);
    return [
      target,
      String(rounds.length),
      m.loads,
      int(m.stepsPerSecond),
      pair(m.first),
      pair(m.next),
      pair(m.third),
      fixed(m.cpu, 1),
      fixed(m.cpuPerStep, 2),
      int(m.rss),
    ];
  });
  return table(
    [
      "target",
      "rounds",
      "load 1 min, range",
      "steps/s",
      "first step p50 / p99 ms",
      "next step p50 / p99 ms",
      "third step done p50 / p99 ms",
      "CPU s",
      "CPU ms / step",
      "peak RSS MB, sum",
    ],
    rows,
  );
}

/**
 * Weft's medians over BullMQ's: above 1 means more for Weft (better for steps/s, worse for
 * latencies, CPU and memory).
 */
export function ratiosTable(results: readonly RoundResult[], peer = "bullmq"): string {
  const groups = byTarget(results);
  const base = groups.get(peer);
  if (!base) return `(no ${peer} rounds: no ratios)`;
  const b = medians(base);
  const ratio = (w: number, x: number) => fixed(w / x, 2);
  const rows = [...groups]
    .filter(([target]) => target !== peer)
    .map(([target, rounds]) => {
      const w = medians(rounds);
      return [
        `${target} / ${peer}`,
        ratio(w.stepsPerSecond, b.stepsPerSecond),
        `${ratio(w.first.p50, b.first.p50)} / ${ratio(w.first.p99, b.first.p99)}`,
        `${ratio(w.next.p50, b.next.p50)} / ${ratio(w.next.p99, b.next.p99)}`,
        `${ratio(w.third.p50, b.third.p50)} / ${ratio(w.third.p99, b.third.p99)}`,
        ratio(w.cpuPerStep, b.cpuPerStep),
        ratio(w.rss, b.rss),
      ];
    });
  return table(
    [
      "ratio of medians",
      "steps/s",
      "first step p50 / p99",
      "next step p50 / p99",
      "third step done p50 / p99",
      "CPU / step",
      "peak RSS",
    ],
    rows,
  );
}

/** Each process's CPU seconds and peak RSS in each round, then their median. */
export function processesTable(results: readonly RoundResult[]): string {
  const rows: string[][] = [];
  const each = (values: number[], show: (v: number) => string) =>
    `${values.map(show).join(" · ")} (${show(median(values))})`;
  for (const [target, rounds] of byTarget(results)) {
    const names = [...new Set(rounds.flatMap((r) => r.processes.map((p) => p.name)))];
    for (const name of names) {
      const of = rounds.flatMap((r) => r.processes.filter((p) => p.name === name));
      rows.push([
        target,
        name,
        each(
          of.map((p) => p.cpuSeconds),
          (v) => fixed(v, 1),
        ),
        each(
          of.map((p) => p.peakRssMb),
          int,
        ),
      ]);
    }
  }
  return table(
    ["target", "process", "CPU s, each round (median)", "peak RSS MB, each round (median)"],
    rows,
  );
}

/** Weft's per-hop latencies at the steady rate, medians over rounds of p50 and p99. */
export function hopsTable(results: readonly RoundResult[]): string {
  const groups = [...byTarget(results)].filter(([, rounds]) => rounds[0]?.steady.hops);
  if (groups.length === 0) return "(no per-hop figures)";
  const hopNames = Object.keys(groups[0]![1][0]!.steady.hops!);
  const rows = hopNames.map((hop) => [
    hop,
    ...groups.map(([, rounds]) => {
      const samples = rounds.map((r) => r.steady.hops?.[hop]).filter((p) => p !== undefined);
      if (samples.some((p) => p === null)) return "n/a (not recorded)";
      const ps = samples as Percentiles[];
      return `${int(median(ps.map((p) => p.p50)))} / ${int(median(ps.map((p) => p.p99)))}`;
    }),
  ]);
  // At a steady rate each transaction is requests and a round trip of its own: how many a step
  // takes is what Weft on Kafka's cost and latency follow there (docs/benchmarks.md).
  if (hopNames.includes(COMMIT_HOP))
    rows.push([
      "decision transactions per step (commits / steps of the steady phase)",
      ...groups.map(([, rounds]) => {
        const perStep = rounds.map((r) => {
          const commits = r.steady.hops?.[COMMIT_HOP];
          return commits ? commits.n / (3 * r.steady.runs) : NaN;
        });
        const value = median(perStep);
        return Number.isNaN(value) ? "n/a (not recorded)" : value.toFixed(2);
      }),
    ]);
  return table(["hop (p50 / p99 ms)", ...groups.map(([target]) => target)], rows);
}
