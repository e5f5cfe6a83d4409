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

/** A record's headers as the pairs a record holds: a repeated key once per value. */
export function headerEntries(headers: PortHeaders | undefined): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([key, recordBytes(v)!]);
  }
  return out;
}
