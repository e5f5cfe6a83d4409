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
export function intOption(text: string, name: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidInputError(
      `${name} must be a whole number from ${min} up, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}
