/** The chaos run's printed verdict: one table of checks, then the failover figures. */
import type { CheckRow } from "./checks";
import type { BrokerFailover, DeciderFailover } from "./figures";
import { percentile } from "./figures";

export interface RunSummary {
  readonly seed: number;
  readonly minutes: number;
  readonly rate: number;
  readonly topicPrefix: string;
  readonly startsAcked: number;
  readonly startsRefused: number;
  readonly signalsAcked: number;
  /** Start call → acknowledgement, ms, for every acknowledged start. */
  readonly startLatencies: readonly number[];
  /** Wait began (its event's time) → the load saw it through the history tail, ms. */
  readonly waitSeenLags: readonly number[];
  readonly roleKills: number;
  readonly brokerKills: number;
  readonly settledMs: number | null;
  readonly loadAverages: readonly number[];
  readonly notes: readonly string[];
}

export function formatReport(
  summary: RunSummary,
  rows: readonly CheckRow[],
  decider: DeciderFailover,
  brokers: readonly BrokerFailover[],
  diagnosis: readonly string[] = [],
): string {
  const lines: string[] = [];
  lines.push(
    `Chaos run: seed ${summary.seed}, ${summary.minutes} min at ${summary.rate} starts/s, topics ${summary.topicPrefix}.*`,
    `  starts acknowledged ${summary.startsAcked} (refused after retries: ${summary.startsRefused}), ` +
      `signals acknowledged ${summary.signalsAcked}, role kills ${summary.roleKills}, broker kills ${summary.brokerKills}, ` +
      (summary.settledMs === null
        ? "runs still open when the settle bound passed"
        : `every run closed ${(summary.settledMs / 1000).toFixed(1)} s after the load`),
  );
  const s = (ms: number | undefined) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);
  const spread = (v: readonly number[]) =>
    `p50 ${s(percentile(v, 0.5))}, p99 ${s(percentile(v, 0.99))}, max ${s(v.length ? Math.max(...v) : undefined)}`;
  lines.push(
    `  start call → acknowledged: ${spread(summary.startLatencies)}; signal wait began → seen by the load: ${spread(summary.waitSeenLags)}`,
    "",
  );
  const table = rows.map((r) => [
    r.check,
    String(r.count),
    r.violations === "not checked"
      ? "not checked"
      : `${r.violations}${r.note && r.violations !== 0 ? ` (${r.note})` : ""}`,
    r.violations === "not checked" ? (r.note ?? "") : r.examples.join("; "),
  ]);
  lines.push(...markdownTable(["check", "count", "violations", "examples"], table), "");
  if (diagnosis.length)
    lines.push("Where the lost work went", ...diagnosis.map((d) => `  ${d}`), "");

  const la = summary.loadAverages;
  const load = la.length
    ? `load average (1 min) during the run: min ${Math.min(...la).toFixed(1)}, median ${percentile(la, 0.5)!.toFixed(1)}, max ${Math.max(...la).toFixed(1)}`
    : "load average: not sampled";
  lines.push(`Failover (record timestamps in weft.history; ${load})`);
  lines.push(
    `  decider kill → first new history event on every partition it owned: ` +
      (decider.delaysMs.length
        ? `p50 ${s(percentile(decider.delaysMs, 0.5))}, p99 ${s(percentile(decider.delaysMs, 0.99))}, max ${s(Math.max(...decider.delaysMs))} over ${decider.delaysMs.length} kills`
        : "no kill measured") +
      (decider.never
        ? `; ${decider.never} kill(s) after which a partition never wrote again`
        : "") +
      (decider.unmeasured
        ? `; ${decider.unmeasured} kill(s) not measured (the decider owned no partition then, or the group could not say)`
        : ""),
  );
  if (brokers.length === 0) lines.push("  broker kill: none in this run");
  for (const b of brokers) {
    lines.push(
      `  ${b.target} killed at ${new Date(b.at).toISOString().slice(11, 19)}: history written again on every partition after ${b.resumeMs === null ? "never" : s(b.resumeMs)}; ` +
        `longest pause within 60 s: ${s(b.longestPauseMs)} (partition ${b.pausePartition})`,
    );
  }
  for (const note of summary.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}

function markdownTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => Math.min(r[i]!.length, 90))),
  );
  const cell = (text: string, i: number) => {
    const clipped = text.length > 200 ? `${text.slice(0, 197)}…` : text;
    return clipped.padEnd(widths[i]!);
  };
  return [
    `| ${header.map(cell).join(" | ")} |`,
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
}
