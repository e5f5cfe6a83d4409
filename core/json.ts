import { InvalidInputError } from "./errors";

/** Inputs, results and payloads are limited so one run cannot clog a partition. */
export const MAX_PAYLOAD_BYTES = 512 * 1024;

/** Serialises a user value to JSON text, refusing what would not survive the round trip. */
export function toJsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value, rejectLossy);
  } catch (err) {
    throw new InvalidInputError(`${what} is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (text === undefined) throw new InvalidInputError(`${what} is not JSON-serialisable`);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new InvalidInputError(`${what} is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES}`, {
      bytes,
      limit: MAX_PAYLOAD_BYTES,
    });
  }
  return text;
}

function rejectLossy(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === "bigint") throw new TypeError(`BigInt at ${key || "<root>"}`);
  if (typeof value === "function") throw new TypeError(`function at ${key || "<root>"}`);
  if (typeof value === "symbol") throw new TypeError(`symbol at ${key || "<root>"}`);
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`${String(value)} at ${key || "<root>"}`);
  }
  return value;
}

export function fromJsonText(text: string): unknown {
  return JSON.parse(text) as unknown;
}
