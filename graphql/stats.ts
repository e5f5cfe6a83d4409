import { topics, type WeftConfig } from "../core/config";
import { projectorGroup } from "../projections/projector";
import type { Queryable } from "../projections/database";
import { countsByStatus, pendingTimerCount, throughput, type ThroughputPoint } from "./ops-queries";
import { RUN_STATUSES } from "./run-queries";

/** Consumer lag per group and partition (transport/consumer-lag.ts reads it from Kafka). */
export interface LagSource {
  snapshot(): Promise<
    ReadonlyArray<{ group: string; topic: string; partition: number; lag: number }>
  >;
}

export interface Stats {
  counts: Array<{ status: string; count: number }>;
  throughput: ThroughputPoint[];
  backlog: Array<{ queue: string; backlog: number }>;
  commandBacklog: number;
  projectorLag: number;
  pendingTimers: number;
  at: string;
}

/** The overview: counts from the read models, backlogs from consumer lag. */
export async function readStats(
  db: Queryable,
  config: WeftConfig,
  lag: LagSource | undefined,
): Promise<Stats> {
  const now = Date.now();
  const [counts, points, timers, lags] = await Promise.all([
    countsByStatus(db, RUN_STATUSES),
    throughput(db, now),
    pendingTimerCount(db),
    lag ? lag.snapshot() : Promise.resolve([]),
  ]);
  const workerGroup = topics.workerGroup(config, "");
  const byQueue = new Map<string, number>();
  let commandBacklog = 0;
  let projectorLag = 0;
  for (const row of lags) {
    if (row.group.startsWith(workerGroup)) {
      const queue = row.group.slice(workerGroup.length);
      byQueue.set(queue, (byQueue.get(queue) ?? 0) + row.lag);
    } else if (row.group === topics.deciderGroup(config)) {
      commandBacklog += row.lag;
    } else if (row.group === projectorGroup(config)) {
      projectorLag += row.lag;
    }
  }
  return {
    counts: counts.map((c) => ({ status: c.status.toUpperCase(), count: c.count })),
    throughput: points,
    backlog: [...byQueue]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([queue, backlog]) => ({ queue, backlog })),
    commandBacklog,
    projectorLag,
    pendingTimers: timers,
    at: new Date(now).toISOString(),
  };
}

/** The name of the live feed that pushes stats to subscribers. */
export const STATS_FEED = "stats";
