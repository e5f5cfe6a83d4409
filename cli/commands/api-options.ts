import type { Command } from "commander";
import { InvalidInputError } from "../../core/errors";
import { ApiClient, DEFAULT_API_URL } from "../api-client";
import { fail } from "../output";

export interface ApiCliOptions {
  api?: string;
  token?: string;
  json?: boolean;
}

/** The options every command that talks to the API takes: --api, --token, --json. */
export function apiOptions(command: Command): Command {
  return command
    .option("--api <url>", `the Weft API (default WEFT_API_URL, else ${DEFAULT_API_URL})`)
    .option(
      "--token <token>",
      "bearer token for an API that requires one (default WEFT_API_TOKEN; the variable keeps it out of the process list)",
    )
    .option("--json", "print one JSON document on stdout");
}

/**
 * Runs a command's body with an API client, closes it, and turns any failure into one line
 * and a non-zero exit code.
 */
export async function withApi(
  opts: ApiCliOptions,
  body: (client: ApiClient) => Promise<void>,
): Promise<void> {
  let client: ApiClient | undefined;
  try {
    client = ApiClient.fromOptions(opts);
    await body(client);
  } catch (err) {
    await client?.close().catch(() => undefined);
    fail(err);
  }
  await client.close();
}

/** A whole number from `min` up, from an option's text. */
const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration option: whole milliseconds (`90000`), or amounts with units (`90s`, `30m`, `6h`,
 * `2d`, `1h30m`, `500ms`). Positive and whole in milliseconds, else INVALID_INPUT naming the
 * option and the forms it takes.
 */
export function durationOption(text: string, name: string): number {
  const refuse = (why: string) =>
    new InvalidInputError(
      `${name} must be a duration such as 90s, 30m, 6h, 2d or 1h30m (or whole milliseconds): ${why}, got ${JSON.stringify(text)}`,
    );
  const trimmed = text.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed);
  else {
    if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) throw refuse("not one");
    ms = 0;
    for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
      ms += Number(amount) * DURATION_UNITS[unit!]!;
  }
  if (!Number.isSafeInteger(ms)) throw refuse("not a whole number of milliseconds");
  if (ms <= 0) throw refuse("it must be more than zero");
  return ms;
}

export function intOption(text: string, name: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidInputError(
      `${name} must be a whole number from ${min} up, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}
