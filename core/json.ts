import { InvalidInputError } from "./errors";

/** Inputs, results and payloads are limited so one run cannot clog a partition. */
export const MAX_PAYLOAD_BYTES = 512 * 1024;
/**
 * Objects and arrays nest at most this deep. Every store of the read side (SQLite's JSON
 * functions stop at 1,000) and every reader can then take any value Weft accepted.
 */
export const MAX_JSON_DEPTH = 64;

class TooDeep extends Error {}

/**
 * Serialises a user value to JSON text, refusing what would not survive the round trip and
 * what is too deep or too large: the one check every input, payload and result goes through
 * (API, client, worker, and the decider for what workflow code produces).
 */
export function toJsonText(value: unknown, what: string): string {
  let text: string | undefined;
  const depths = new WeakMap<object, number>();
  function replacer(this: unknown, key: string, item: unknown): unknown {
    rejectLossy(key, item);
    if (item !== null && typeof item === "object") {
      const depth = (depths.get(this as object) ?? 0) + 1;
      if (depth > MAX_JSON_DEPTH) throw new TooDeep();
      depths.set(item, depth);
    }
    return item;
  }
  try {
    text = JSON.stringify(value === undefined ? null : value, replacer);
  } catch (err) {
    if (err instanceof TooDeep)
      throw new InvalidInputError(
        `${what} nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels`,
        { limit: MAX_JSON_DEPTH },
      );
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

function rejectLossy(key: string, value: unknown): void {
  if (typeof value === "bigint") throw new TypeError(`BigInt at ${key || "<root>"}`);
  if (typeof value === "function") throw new TypeError(`function at ${key || "<root>"}`);
  if (typeof value === "symbol") throw new TypeError(`symbol at ${key || "<root>"}`);
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`${String(value)} at ${key || "<root>"}`);
  }
}

/** Whether a parsed JSON value nests objects or arrays deeper than `limit`. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { item: unknown; depth: number }[] = [{ item: value, depth: 0 }];
  while (stack.length > 0) {
    const { item, depth } = stack.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(item)) stack.push({ item: child, depth: depth + 1 });
  }
  return false;
}

export function fromJsonText(text: string): unknown {
  return JSON.parse(text) as unknown;
}
