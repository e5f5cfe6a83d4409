/** Readable output: aligned tables, key/value blocks, short values. */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** An aligned table with a header row; `empty` when there are no rows. */
export function table<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  empty = "(none)",
): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((row) => columns.map((c) => oneLine(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => r[i]!.length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/** `key  value` lines with the keys aligned; undefined values are left out. */
export function fields(entries: readonly [string, string | undefined][]): string {
  const shown = entries.filter((e): e is [string, string] => e[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** Compact JSON, cut to `max` characters. */
export function json(value: unknown, max = 80): string {
  if (value === undefined || value === null) return "-";
  return cut(JSON.stringify(value), max);
}

export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A time as ISO-8601 in UTC, `2026-11-27T16:01:26.123Z` (from ISO text or epoch ms), or `-`. */
export function time(at: string | number | null | undefined): string {
  if (at === null || at === undefined || at === "") return "-";
  const ms = typeof at === "number" ? at : Date.parse(at);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(at);
}

/** A duration: `850 ms`, `12.3 s`, `4m05s`, `2h03m`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The text on one line: each line break and the spaces around it become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
