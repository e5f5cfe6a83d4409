import { WeftError } from "../core/errors";

export interface OutputOptions {
  json?: boolean;
}

export function print(value: unknown, options: OutputOptions, table?: () => string): void {
  process.stdout.write(
    `${options.json || !table ? JSON.stringify(value, null, options.json ? 0 : 2) : table()}\n`,
  );
}

/** Errors are one clear line and a non-zero exit code. */
export function fail(err: unknown): never {
  const message = WeftError.is(err)
    ? `${err.code}: ${err.message}`
    : ((err as Error).message ?? String(err));
  process.stderr.write(`weft: ${message}\n`);
  process.exit(WeftError.is(err) ? 2 : 1);
}

export function parseJsonOption(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${what} is not valid JSON: ${text.slice(0, 80)}`);
  }
}
