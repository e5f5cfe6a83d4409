import { InvalidInputError, WeftError } from "../core/errors";
import { ApiError } from "./api-client";
import { oneLine } from "./tables";

export interface OutputOptions {
  json?: boolean;
}

/** One JSON document with `--json`, else the readable form `table()` renders. */
export function print(value: unknown, options: OutputOptions, table?: () => string): void {
  process.stdout.write(
    `${options.json || !table ? JSON.stringify(value, null, options.json ? 0 : 2) : table()}\n`,
  );
}

/**
 * Errors are one clear line and a non-zero exit code: `weft: <CODE>: <message>` and exit 2
 * for a coded error (Weft's own or the API's), `weft: <message>` and exit 1 otherwise.
 */
export function fail(err: unknown): never {
  const code = WeftError.is(err) || err instanceof ApiError ? err.code : undefined;
  const message = oneLine((err as Error)?.message ?? String(err)).trim();
  process.stderr.write(`weft: ${code ? `${code}: ` : ""}${message}\n`);
  process.exit(code ? 2 : 1);
}

export function parseJsonOption(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidInputError(`${what} is not valid JSON: ${oneLine(text).trim().slice(0, 80)}`);
  }
}
