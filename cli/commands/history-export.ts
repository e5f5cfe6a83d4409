import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { InvalidInputError, WeftError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import type { HistoryEvent } from "../../schemas/types";
import type * as HistoryFile from "../../testing/history-file";
import { loadHistorySource } from "../replay/lazy";
import { fail } from "../output";

interface ExportOptions {
  out?: string;
  runStartSeq?: string;
  dir?: string;
}

export function registerHistory(program: Command): void {
  const history = program
    .command("history")
    .description("recorded history, read from Kafka (KAFKA_BROKERS) or an embedded log");
  history
    .command("export")
    .description(
      "write a workflow's recorded history as a history file: every run of the ID, or the one run that starts at --run-start-seq. checkReplay (the test kit), the golden tests and `weft replay workflows --file` read it",
    )
    .argument("<workflowId>")
    .option("--out <file>", "write to this file (default: stdout)")
    .option(
      "--run-start-seq <seq>",
      "only the run whose WorkflowStarted has this seq (weft workflow describe: runStartSeq)",
    )
    .option("--dir <path>", "read the embedded log in this directory (weft dev stopped)")
    .action(async (workflowId: string, opts: ExportOptions) => {
      try {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const events: HistoryEvent[] = [];
        const source =
          opts.dir === undefined
            ? { kind: "kafka" as const }
            : { kind: "dir" as const, dir: opts.dir };
        const { readHistory } = loadHistorySource();
        const from = await readHistory(source, config, logger, (e) => events.push(e), workflowId);
        if (events.length === 0)
          throw new WeftError("NOT_FOUND", `no history of workflow ${workflowId} in ${from}`);
        const chosen = opts.runStartSeq === undefined ? events : oneRun(events, opts.runStartSeq);
        const text = loadHistoryFile().historyFileText(chosen);
        if (opts.out === undefined) process.stdout.write(text);
        else writeFileSync(opts.out, text);
        const runs = chosen.filter((e) => e.body.type === "WorkflowStarted").map((e) => e.seq);
        process.stderr.write(
          `${chosen.length} event(s) of ${workflowId} (run(s) from seq ${runs.join(", ")})${opts.out === undefined ? "" : ` written to ${opts.out}`}\n`,
        );
      } catch (err) {
        fail(err);
      }
    });
}

/* Loaded when the command runs: `weft start` registers every command, and loads only its own. */

function loadHistoryFile(): typeof HistoryFile {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../../testing/history-file") as typeof HistoryFile;
}

/** The run whose WorkflowStarted has seq `text`: up to the next WorkflowStarted. */
function oneRun(events: readonly HistoryEvent[], text: string): HistoryEvent[] {
  const seq = Number(text);
  const start = events.findIndex((e) => e.seq === seq && e.body.type === "WorkflowStarted");
  if (start < 0) {
    const starts = events.filter((e) => e.body.type === "WorkflowStarted").map((e) => e.seq);
    throw new InvalidInputError(
      `--run-start-seq ${text}: no run of ${events[0]!.workflowId} starts there (its runs start at seq ${starts.join(", ")})`,
    );
  }
  const next = events.findIndex((e, i) => i > start && e.body.type === "WorkflowStarted");
  return events.slice(start, next < 0 ? undefined : next);
}
