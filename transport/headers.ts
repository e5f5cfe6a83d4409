import type { PortHeaders } from "./port";

/**
 * Sets `record[key]` as an own property whatever the key: a header named `__proto__` (any
 * producer of a source topic may send one) would otherwise replace the object's prototype,
 * or be dropped, rather than be a header.
 */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__")
    Object.defineProperty(record, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else record[key] = value;
}

/** Adds a decoded header; a repeated key becomes an array, as kafkajs gives it. */
export function addHeader(headers: PortHeaders, key: string, value: Buffer): void {
  const earlier = Object.hasOwn(headers, key) ? headers[key] : undefined;
  setOwn(
    headers,
    key,
    earlier === undefined ? value : Array.isArray(earlier) ? [...earlier, value] : [earlier, value],
  );
}

/** A record's headers as text (the first value of a repeated one). */
export function headersToStrings(headers: PortHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    setOwn(out, k, Buffer.isBuffer(first) ? first.toString("utf8") : String(first));
  }
  return out;
}

/** A record's key or value as bytes (text as UTF-8), as producers send it. */
export function recordBytes(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8");
}

/**
 * The bytes of header text (keys, and values given as text), by text: Weft's headers are a few
 * keys and values sent on every record (schema names and versions, command types), each of
 * which was a new Buffer per record. Bounded: texts past the first few thousand, or long ones,
 * are converted each time. The bytes may be shared with other records: for writing out,
 * never to be changed in place.
 */
const headerText = new Map<string, Buffer>();
const MAX_HEADER_TEXTS = 4096;
const MAX_HEADER_TEXT_LENGTH = 64;

export function headerTextBytes(text: string): Buffer {
  const known = headerText.get(text);
  if (known !== undefined) return known;
  const bytes = Buffer.from(text, "utf8");
  if (text.length <= MAX_HEADER_TEXT_LENGTH && headerText.size < MAX_HEADER_TEXTS)
    headerText.set(text, bytes);
  return bytes;
}

function headerValueBytes(value: Buffer | string): Buffer {
  return typeof value === "string" ? headerTextBytes(value) : value;
}

/**
 * A record's headers as the pairs a record holds: a repeated key once per value. A value given
 * as text may come back as a Buffer shared with other records: the pairs are for writing out,
 * never to be changed in place.
 */
export function headerEntries(headers: PortHeaders | undefined): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  if (headers === undefined) return out;
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue;
    const value = headers[key];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([key, headerValueBytes(v)]);
    else out.push([key, headerValueBytes(value)]);
  }
  return out;
}
