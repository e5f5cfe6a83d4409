/**
 * Hops no record's timestamps show, read from the roles' Prometheus histograms instead: the
 * decider's wait for a command (produced → decided on) and its transaction (first send →
 * commit answered). Each figure is the difference of two scrapes around the steady phase, so
 * the burst before it does not count; a percentile is interpolated within its bucket.
 */
import { createServer } from "node:net";
import type { Percentiles } from "./measure";

/**
 * The decider's transaction hop. Its count between the two scrapes is also the steady phase's
 * decision transactions, which the report divides by its steps.
 */
export const COMMIT_HOP = "decision transaction: first send → commit answered";

/** A histogram's cumulative counts by upper bound (seconds), summed over its label sets. */
export type Buckets = Map<number, number>;

/** A free TCP port on loopback, for a child's /metrics. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function scrape(url: string, names: readonly string[]): Promise<Map<string, Buckets>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, Buckets>(names.map((n) => [n, new Map()]));
  for (const line of text.split("\n")) {
    const match = /^(\w+)_bucket\{(.*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const buckets = out.get(match[1]!);
    const le = /le="([^"]+)"/.exec(match[2]!)?.[1];
    if (!buckets || le === undefined) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[3]));
  }
  return out;
}

/** The histograms of several processes (the same names and buckets), added up. */
export function addUp(scrapes: readonly Map<string, Buckets>[]): Map<string, Buckets> {
  const total = new Map<string, Buckets>();
  for (const one of scrapes) {
    for (const [name, buckets] of one) {
      const sum = total.get(name) ?? new Map<number, number>();
      for (const [le, count] of buckets) sum.set(le, (sum.get(le) ?? 0) + count);
      total.set(name, sum);
    }
  }
  return total;
}

/** p50 and p99 in ms of what was observed between two scrapes of one histogram. */
export function percentilesBetween(before: Buckets | undefined, after: Buckets): Percentiles {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => after.get(b)! - (before?.get(b) ?? 0));
  const n = counts.at(-1) ?? 0;
  const at = (q: number): number => {
    if (n === 0) return NaN;
    const rank = q * n;
    for (let i = 0; i < bounds.length; i++) {
      if (counts[i]! < rank) continue;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i] === Infinity ? lower : bounds[i]!;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const inBucket = counts[i]! - below;
      const share = inBucket === 0 ? 1 : (rank - below) / inBucket;
      return (lower + (upper - lower) * share) * 1000;
    }
    return NaN;
  };
  return { p50: at(0.5), p99: at(0.99), n };
}
