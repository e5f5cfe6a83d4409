/**
 * History files: what `weft history export` writes, what `weft replay workflows --file` and
 * the golden replay tests (test/golden/histories) read, and what `checkReplay` takes once
 * parsed. A file is a JSON array of history events exactly as recorded — `{ workflowId, seq,
 * at, body }`, `at` in epoch milliseconds — one workflow ID's events in seq order (every run of
 * it, or the runs from one WorkflowStarted on); files of several IDs may be concatenated into
 * one array.
 */
import { readFileSync } from "node:fs";
import { InvalidInputError } from "../core/errors";
import type { HistoryEvent } from "../schemas/types";

/** The text of a history file for these events (one event field per line, as the goldens). */
export function historyFileText(events: readonly HistoryEvent[]): string {
  return `${JSON.stringify(events, null, 1)}\n`;
}

/**
 * Reads a history file: its events, in the file's order. Each must carry its workflow ID, seq,
 * time (epoch ms, or an ISO string) and a body with a type; the order of each ID's events is
 * left to `checkReplay` to judge.
 */
export function readHistoryFile(path: string): HistoryEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (err) {
    throw new InvalidInputError(
      `${path} is not a history file: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  return parseHistory(parsed, path);
}

/** Checks the shape of a parsed history file (`where` names it in errors). */
export function parseHistory(parsed: unknown, where: string): HistoryEvent[] {
  if (!Array.isArray(parsed))
    throw new InvalidInputError(`${where} is not a history file: it holds no JSON array`);
  return parsed.map((raw: unknown, index) => {
    const entry = (raw ?? {}) as Partial<HistoryEvent> & { at?: unknown };
    const at = typeof entry.at === "string" ? Date.parse(entry.at) : entry.at;
    const body = entry.body as { type?: unknown } | undefined;
    if (
      typeof entry.workflowId !== "string" ||
      typeof entry.seq !== "number" ||
      typeof at !== "number" ||
      Number.isNaN(at) ||
      typeof body?.type !== "string"
    ) {
      throw new InvalidInputError(
        `${where}: event ${index + 1} is not a history event (workflowId, seq, at and body.type); ` +
          "`weft history export <workflowId>` writes a history file",
      );
    }
    return { workflowId: entry.workflowId, seq: entry.seq, at, body: entry.body! };
  });
}
