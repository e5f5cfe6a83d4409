/**
 * Failover figures of a chaos run, from the timestamps of the records in weft.history (each set
 * by the decider that wrote it) against the harness's log of kills. Under combined chaos a
 * figure includes whatever else failed in the same window (another kill, a rebalance).
 */

/** One kill the harness made. */
export interface KillRecord {
  readonly at: number;
  readonly kind: "role" | "broker";
  /** decider-1, worker-2, … or broker-3. */
  readonly target: string;
  readonly pid?: number;
  /** For a decider: the command partitions it owned when it was killed (null: not known). */
  readonly partitions?: readonly number[] | null;
  /** When it was started again. */
  restartedAt?: number;
}

export interface DeciderFailover {
  /** Decider kills whose partitions were known and not empty. */
  readonly measured: number;
  /** Kill → first new history event on every partition it owned, for each kill that resumed. */
  readonly delaysMs: readonly number[];
  /** Kills after which some partition it owned never wrote history again. */
  readonly never: number;
  /** Kills of a decider that owned no partition at that moment, or whose partitions were unknown. */
  readonly unmeasured: number;
}

export interface BrokerFailover {
  readonly target: string;
  readonly at: number;
  /** Kill → first history record on the slowest partition (null: one never wrote again). */
  readonly resumeMs: number | null;
  /** Longest stretch without a history record on any one partition, within the window. */
  readonly longestPauseMs: number;
  readonly pausePartition: number;
}

/** How long after a broker kill its effect is looked for. */
export const BROKER_WINDOW_MS = 60_000;

/** First timestamp in a sorted list that is above `t`, or undefined. */
function firstAfter(sorted: readonly number[], t: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return sorted[lo];
}

export function deciderFailover(
  kills: readonly KillRecord[],
  historyTimes: ReadonlyMap<number, readonly number[]>,
): DeciderFailover {
  const delaysMs: number[] = [];
  let never = 0;
  let unmeasured = 0;
  let measured = 0;
  for (const kill of kills) {
    if (kill.kind !== "role" || !kill.target.startsWith("decider")) continue;
    if (!kill.partitions || kill.partitions.length === 0) {
      unmeasured++;
      continue;
    }
    measured++;
    let worst = 0;
    let resumed = true;
    for (const p of kill.partitions) {
      const next = firstAfter(historyTimes.get(p) ?? [], kill.at);
      if (next === undefined) resumed = false;
      else worst = Math.max(worst, next - kill.at);
    }
    if (resumed) delaysMs.push(worst);
    else never++;
  }
  return { measured, delaysMs, never, unmeasured };
}

/**
 * For each broker kill: when every history partition wrote again, and the longest pause on any
 * partition within BROKER_WINDOW_MS (cut at `loadEnd`: partitions idle after the load are not
 * paused).
 */
export function brokerFailover(
  kills: readonly KillRecord[],
  historyTimes: ReadonlyMap<number, readonly number[]>,
  loadEnd: number,
): BrokerFailover[] {
  const out: BrokerFailover[] = [];
  for (const kill of kills) {
    if (kill.kind !== "broker") continue;
    const end = Math.min(kill.at + BROKER_WINDOW_MS, loadEnd);
    let resumeMs: number | null = 0;
    let longestPauseMs = 0;
    let pausePartition = -1;
    for (const [p, times] of historyTimes) {
      const first = firstAfter(times, kill.at);
      if (first === undefined) resumeMs = null;
      else if (resumeMs !== null) resumeMs = Math.max(resumeMs, first - kill.at);
      if (end <= kill.at) continue;
      let previous = kill.at;
      for (let t = first; t !== undefined && t <= end; t = firstAfter(times, t)) {
        if (t - previous > longestPauseMs) [longestPauseMs, pausePartition] = [t - previous, p];
        previous = t;
      }
      if (end - previous > longestPauseMs) [longestPauseMs, pausePartition] = [end - previous, p];
    }
    out.push({ target: kill.target, at: kill.at, resumeMs, longestPauseMs, pausePartition });
  }
  return out;
}

/** Nearest-rank percentile (q in 0..1) of unsorted values; undefined for none. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
