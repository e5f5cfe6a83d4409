import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { ConfigError, InvalidInputError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { loadDefinitions } from "../../sdk/module-loader";
import { collect, historySourceOf, type SourceCliOptions } from "../replay/source-options";
import { loadHistorySource, loadReplayRuns } from "../replay/lazy";
import type { RunVerdict } from "../replay/replay-runs";
import { RunCollector, type CollectedRuns } from "../replay/run-collector";
import { fail, print } from "../output";

interface ReplayWorkflowsOptions extends SourceCliOptions {
  module: string;
  file: string[];
  type: string[];
  since?: string;
  limit: string;
  workflowId?: string;
  json?: boolean;
}

/** Exit code when a run diverged: the code would block it once deployed. */
const DIVERGED = 1;

/**
 * Of the runs that match, the most recently started this many are replayed by default: the
 * read is bounded by the topic, the memory by what is kept (cli/replay/run-collector.ts).
 */
const DEFAULT_LIMIT = "1000";

export function registerReplayWorkflows(replay: Command): void {
  replay
    .command("workflows")
    .description(
      "replay recorded histories through a module's workflow code and print each run that diverges: the run, the history event, what the code does instead and the source line. Reads the history topic (KAFKA_BROKERS, WEFT_TOPIC_PREFIX), an embedded log (--dir, with weft dev stopped) or history files (--file). The most recently started runs first; exit 1 when a run diverged, else 0",
    )
    .requiredOption("--module <file>", "the new code: a .ts or .js module exporting workflows")
    .option("--type <type>", "only runs of this workflow type (repeat for more)", collect, [])
    .option(
      "--since <when>",
      "only runs started since then: an ISO-8601 time, or a duration back from now (90s, 30m, 24h, 7d)",
    )
    .option(
      "--limit <n>",
      "check at most n runs, the most recently started (0: all)",
      DEFAULT_LIMIT,
    )
    .option("--workflow-id <id>", "only the runs of this workflow ID")
    .option("--dir <path>", "read the embedded log in this directory instead of Kafka")
    .option(
      "--file <path>",
      "read a history file (weft history export) instead of Kafka (repeat for more)",
      collect,
      [],
    )
    .option("--json", "print JSON")
    .action(async (opts: ReplayWorkflowsOptions) => {
      try {
        const source = historySourceOf(opts);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 0)
          throw new InvalidInputError(`--limit must be a whole number ≥ 0, got ${opts.limit}`);
        const since = opts.since === undefined ? undefined : parseSince(opts.since, Date.now());
        const { workflows } = loadDefinitions(opts.module);
        const definitions = new Map(workflows.map((w) => [w.name, w]));
        if (definitions.size === 0)
          throw new ConfigError(`${opts.module} exports no workflow (defineWorkflow)`);
        const unknown = opts.type.filter((t) => !definitions.has(t));
        if (unknown.length > 0) {
          throw new InvalidInputError(
            `--type ${unknown.join(", ")}: ${opts.module} defines no such workflow (it defines ${[...definitions.keys()].join(", ")})`,
          );
        }
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const collector = new RunCollector({
          workflowId: opts.workflowId,
          types: opts.type.length > 0 ? new Set(opts.type) : undefined,
          since,
          limit,
          known: (type) => definitions.has(type),
        });
        let read = 0;
        const from = await loadHistorySource().readHistory(source, config, logger, (event) => {
          read++;
          collector.add(event);
        });
        const collected = collector.result();
        const verdicts = await loadReplayRuns().replayRuns(collected.runs, definitions);
        const summary = summarise(from, read, limit, collected, verdicts);
        print(summary, opts, () => readable(summary, verdicts));
        if (summary.diverged > 0) process.exitCode = DIVERGED;
      } catch (err) {
        fail(err);
      }
    });
}

interface Summary {
  source: string;
  events: number;
  checked: number;
  passed: number;
  diverged: number;
  /** Runs of types the module does not define. */
  skipped: number;
  skippedTypes: Record<string, number>;
  /** Runs whose events are not a replayable history (a gap in the seqs). */
  unreadable: number;
  /** Runs that matched the filters; more than `checked` when `limit` left some out. */
  matched: number;
  limit: number;
  /** Workflow IDs whose events were read without their run's start (retention deleted it). */
  withoutStart: number;
  runs: RunVerdict[];
}

function summarise(
  source: string,
  events: number,
  limit: number,
  collected: CollectedRuns,
  verdicts: RunVerdict[],
): Summary {
  const count = (verdict: RunVerdict["verdict"]) =>
    verdicts.filter((v) => v.verdict === verdict).length;
  const skippedTypes = Object.fromEntries(collected.unknownTypes);
  return {
    source,
    events,
    checked: verdicts.length - count("unreadable"),
    passed: count("passed"),
    diverged: count("diverged"),
    skipped: Object.values(skippedTypes).reduce((a, b) => a + b, 0),
    skippedTypes,
    unreadable: count("unreadable"),
    matched: collected.matched,
    limit,
    withoutStart: collected.withoutStart,
    runs: verdicts,
  };
}

/** A line per run that diverged (or could not be replayed), then the counts. */
function readable(s: Summary, verdicts: readonly RunVerdict[]): string {
  const lines = verdicts.filter((v) => v.verdict !== "passed").map(loadReplayRuns().verdictLine);
  const types = Object.entries(s.skippedTypes).map(([type, n]) => `${type} ×${n}`);
  const skipped = types.length > 0 ? `: ${types.join(", ")}` : "";
  lines.push(
    `${s.checked} run(s) checked from ${s.source}: ${s.passed} passed, ${s.diverged} diverged, ${s.skipped} skipped (unknown type${skipped})` +
      (s.unreadable > 0 ? `, ${s.unreadable} not replayable` : ""),
  );
  if (s.matched > verdicts.length)
    lines.push(
      `${s.matched - verdicts.length} older matching run(s) left out by --limit ${s.limit}`,
    );
  if (s.withoutStart > 0)
    lines.push(
      `${s.withoutStart} workflow ID(s) have events whose run's start is no longer in the history (retention): not checked`,
    );
  return lines.join("\n");
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO-8601 time, or a duration back from `now` (`90s`, `30m`, `24h`, `7d`). */
export function parseSince(text: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) {
    throw new InvalidInputError(
      `--since ${JSON.stringify(text)} is neither an ISO-8601 time (2025-01-31T12:00:00Z) nor a duration (90s, 30m, 24h, 7d)`,
    );
  }
  return at;
}
