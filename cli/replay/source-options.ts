import { InvalidInputError } from "../../core/errors";
import type { HistorySource } from "./history-source";

/** The options that say where history is read: Kafka by default. */
export interface SourceCliOptions {
  dir?: string;
  file?: string[];
}

export function historySourceOf(opts: SourceCliOptions): HistorySource {
  const files = opts.file ?? [];
  if (opts.dir !== undefined && files.length > 0)
    throw new InvalidInputError("give --dir or --file, not both");
  if (opts.dir !== undefined) return { kind: "dir", dir: opts.dir };
  if (files.length > 0) return { kind: "files", files };
  return { kind: "kafka" };
}

/** Commander's parser for an option given several times: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
