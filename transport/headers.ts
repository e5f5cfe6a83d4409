import type { PortHeaders } from "./port";

/** A record's headers as text (the first value of a repeated one). */
export function headersToStrings(headers: PortHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
  }
  return out;
}
