/** What a round measures, shared by the targets, the round driver and the report. */
import type { ProcessCost, Watched } from "./process-stats";

/** One run of the steady phase, in ms from its start as the benchmark sent it. */
export interface RunTiming {
  /** Start sent → the first step began on a worker. */
  firstStep: number;
  /** A step finished on its worker → the next step began on a worker (two per run). */
  nextSteps: number[];
  /** Start sent → the third step's completion recorded (in history, or in Redis). */
  thirdDone: number;
}

/**
 * A target's per-hop samples (ms) by hop name, or percentiles read from a histogram; null for
 * a hop nothing records.
 */
export type Hops = Record<string, number[] | Percentiles | null>;

/** One system under test, as a round's driver runs it. */
export interface Target {
  readonly name: string;
  /** The processes besides the driver that do this target's work, for the sampler. */
  readonly watched: readonly Watched[];
  /** Starts run `i`; resolves once the start is accepted, with its ID and when it was sent. */
  start(i: number): Promise<{ id: string; sent: number }>;
  /** Resolves once every run named has completed. */
  waitDone(ids: readonly string[]): Promise<void>;
  /** Between the burst and the steady phase. */
  beforeSteady(): Promise<void>;
  /** After the steady phase: each run's timings and, where recorded, the per-hop samples. */
  timings(ids: ReadonlyMap<string, number>): Promise<{ runs: RunTiming[]; hops?: Hops }>;
  close(): Promise<void>;
}

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

export interface RoundResult {
  target: string;
  round: number;
  /** os.loadavg() (1/5/15 min) when the measured part began and when it ended. */
  loadStart: number[];
  loadEnd: number[];
  burst: { workflows: number; seconds: number; stepsPerSecond: number };
  steady: {
    runs: number;
    rate: number;
    seconds: number;
    firstStep: Percentiles;
    nextStep: Percentiles;
    thirdDone: Percentiles;
    hops?: Record<string, Percentiles | null>;
  };
  processes: ProcessCost[];
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** p50 and p99 of the samples that could be taken (`n`: how many; a missing time is NaN). */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
