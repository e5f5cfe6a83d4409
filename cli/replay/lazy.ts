/*
 * The history tools' heavy parts (the Kafka client, the embedded log, the workflow sandbox),
 * loaded when a command that reads history runs: `weft start`, which registers every command
 * but runs one, loads none of them into a role's process.
 */
import type * as HistorySource from "./history-source";
import type * as ReplayRuns from "./replay-runs";

export function loadHistorySource(): typeof HistorySource {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("./history-source") as typeof HistorySource;
}

export function loadReplayRuns(): typeof ReplayRuns {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("./replay-runs") as typeof ReplayRuns;
}
