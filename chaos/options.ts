import { parseArgs } from "node:util";
import { seedFrom } from "./random";

/** What one chaos run does; from the command line (`npm run chaos -- --minutes 3`). */
export interface ChaosOptions {
  /** How long load and faults last. */
  readonly minutes: number;
  /** startWorkflow calls per second. */
  readonly rate: number;
  readonly seed: number;
  /** Bound on the wait for every run to close after the load ends. */
  readonly settleSeconds: number;
  /** Partitions of the commands and history topics (and of the task topics). */
  readonly partitions: number;
  /** Stop the three-broker cluster at the end (default: leave it running for the next run). */
  readonly clusterDown: boolean;
  /**
   * Keep the run's PostgreSQL schema and topics for inspection. By default they are dropped
   * when every check passes and kept when one fails.
   */
  readonly keep: boolean;
  /** No faults at all: the same load and checks, as a baseline. */
  readonly calm: boolean;
  readonly logLevel: string;
  /** Where the run's logs, acknowledgements and report go. */
  readonly outDir: string | undefined;
}

export const USAGE = `usage: npm run chaos -- --minutes N [options]

  --minutes N      load and faults last N minutes (default 1)
  --rate R         workflow starts per second through GraphQL (default 20)
  --seed S         seed of every random choice (default: time-based, printed)
  --settle S       bound on the wait for open runs after the load, in seconds (default 120)
  --partitions P   partitions of the commands, history and task topics (default 4)
  --down           stop the three-broker cluster at the end (default: leave it running)
  --keep           keep the run's topics and PostgreSQL schema (default: kept only when a
                   check fails)
  --calm           no kills: the same load and checks, as a baseline
  --log-level L    role processes' log level (default info)
  --out DIR        where logs, acknowledgements and the report go (default .chaos/<run>)
`;

export function parseOptions(argv: readonly string[]): ChaosOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        minutes: { type: "string", default: "1" },
        rate: { type: "string", default: "20" },
        seed: { type: "string" },
        settle: { type: "string", default: "120" },
        partitions: { type: "string", default: "4" },
        down: { type: "boolean", default: false },
        keep: { type: "boolean", default: false },
        calm: { type: "boolean", default: false },
        "log-level": { type: "string", default: "info" },
        out: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  return {
    minutes: positive("--minutes", values.minutes, 600),
    rate: positive("--rate", values.rate, 1000),
    seed: seedFrom(values.seed ?? String(Date.now() % 1_000_000_000)),
    settleSeconds: positive("--settle", values.settle, 3600),
    partitions: Math.round(positive("--partitions", values.partitions, 64)),
    clusterDown: values.down,
    keep: values.keep,
    calm: values.calm,
    logLevel: values["log-level"],
    outDir: values.out,
  };
}

function positive(name: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new Error(
      `${name} must be a number above 0 and at most ${max}, got ${JSON.stringify(raw)}\n${USAGE}`,
    );
  }
  return value;
}
