/**
 * Rows travel to PostgreSQL as one JSON array per statement (`json_to_recordset($1::json)`):
 * one parameter, typed columns, any number of rows. Payloads (inputs, results, signal payloads)
 * are already JSON text and are spliced in as they are, not parsed and encoded again.
 *
 * PostgreSQL's jsonb refuses two things JavaScript strings may hold: U+0000 and unpaired
 * surrogates. Both become U+FFFD here, the same way every time, so a replay gives the same rows.
 */

import { MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, nestsDeeperThan } from "../core/json";

/** JSON text that goes into a row as a value, not as a string. */
export class RawJson {
  private constructor(readonly text: string) {}

  /**
   * Payload text from history. Text that is not JSON (a foreign producer's) is kept as a JSON
   * string, so one odd record cannot break a batch.
   */
  static from(text: string): RawJson {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return new RawJson(pgSafeJson(JSON.stringify(text)));
    }
    // Weft refuses such values when they enter; one written before that (or by a foreign
    // producer) is kept as a marker, the same every time, rather than failing the batch.
    if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES)
      return RawJson.marker(`larger than ${MAX_PAYLOAD_BYTES} bytes`, text);
    if (nestsDeeperThan(value, MAX_JSON_DEPTH))
      return RawJson.marker(`nests deeper than ${MAX_JSON_DEPTH} levels`, text);
    return new RawJson(pgSafeJson(text));
  }

  private static marker(why: string, text: string): RawJson {
    return new RawJson(
      JSON.stringify({ weftNotStored: `the value ${why}`, bytes: Buffer.byteLength(text) }),
    );
  }
}

/** A JSON array of the rows, ready for `json_to_recordset($1::json)`. */
export function recordsetJson(rows: readonly object[]): string {
  const parts: string[] = [];
  for (const row of rows) {
    const fields: string[] = [];
    for (const [key, value] of Object.entries(row)) {
      fields.push(`${JSON.stringify(key)}:${valueJson(value)}`);
    }
    parts.push(`{${fields.join(",")}}`);
  }
  return `[${parts.join(",")}]`;
}

function valueJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value === undefined || value === null) return "null";
  return pgSafeJson(JSON.stringify(value));
}

const ESCAPE = /(\\+)u([0-9a-fA-F]{4})/g;
const HIGH_AFTER = /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/;
const HIGH_BEFORE = /^\\u[dD][89abAB][0-9a-fA-F]{2}$/;

/** Replaces the escapes jsonb refuses (\u0000, unpaired surrogates) by \ufffd. */
export function pgSafeJson(text: string): string {
  if (!text.includes("\\u")) return text;
  return text.replace(ESCAPE, (match: string, slashes: string, hex: string, offset: number) => {
    // An even run of backslashes is escaped backslashes followed by a plain "u".
    if (slashes.length % 2 === 0) return match;
    const code = parseInt(hex, 16);
    const escape = `${slashes.slice(0, -1)}\\ufffd`;
    if (code === 0) return escape;
    if (code >= 0xd800 && code <= 0xdbff) {
      return HIGH_AFTER.test(text.slice(offset + match.length)) ? match : escape;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      const start = offset + slashes.length - 1;
      return HIGH_BEFORE.test(text.slice(start - 6, start)) && isEscape(text, start - 6)
        ? match
        : escape;
    }
    return match;
  });
}

/** Whether the backslash at `index` starts an escape (it is not itself escaped). */
function isEscape(text: string, index: number): boolean {
  let run = 0;
  for (let i = index; i >= 0 && text[i] === "\\"; i--) run++;
  return run % 2 === 1;
}
