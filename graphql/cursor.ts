import { InvalidInputError } from "../core/errors";

/** Where a page of runs ends: the last run's start time and ID (runs are newest first). */
export interface RunCursor {
  startedAtMs: number;
  workflowId: string;
}

/** Opaque to clients: base64url of JSON. */
export function encodeCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.startedAtMs, cursor.workflowId])).toString("base64url");
}

export function decodeCursor(text: string): RunCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (
    text.length > 1000 ||
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== "string"
  ) {
    throw new InvalidInputError("`after` is not a cursor returned by `workflows`");
  }
  return { startedAtMs: parsed[0] as number, workflowId: parsed[1] };
}
