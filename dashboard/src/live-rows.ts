/** Merges live row updates into a page of runs, keeping the page bounded. */
import type { RunRow, WorkflowFilter } from "./api/types";

export function matchesFilter(row: RunRow, filter: WorkflowFilter): boolean {
  if (filter.status && row.status !== filter.status) return false;
  if (filter.type && row.type !== filter.type) return false;
  if (filter.text) {
    const text = filter.text.toLowerCase();
    if (!row.id.toLowerCase().includes(text) && !row.type.toLowerCase().includes(text))
      return false;
  }
  if (filter.from && row.startedAt < new Date(filter.from).toISOString()) return false;
  if (filter.to && row.startedAt >= new Date(filter.to).toISOString()) return false;
  return true;
}

/** Newest first, as the API pages them: (startedAt DESC, id). */
function newerFirst(a: RunRow, b: RunRow): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface MergeResult {
  rows: RunRow[];
  /** Rows dropped off the end: the page has more after it. */
  overflowed: boolean;
}

/**
 * Applies updates to `rows`: changed rows in place, rows that left the filter removed, and —
 * on the first page only — new matching runs inserted in order. Never more than `limit` rows.
 */
export function mergeRows(
  rows: readonly RunRow[],
  updates: Iterable<RunRow>,
  filter: WorkflowFilter,
  firstPage: boolean,
  limit: number,
): MergeResult {
  const byId = new Map(rows.map((r, i) => [r.id, i]));
  let next = rows.slice();
  let inserted = false;
  let removed = false;
  for (const update of updates) {
    const index = byId.get(update.id);
    const matches = matchesFilter(update, filter);
    if (index !== undefined) {
      const current = next[index];
      if (!current || current.updatedAt > update.updatedAt || current.lastSeq > update.lastSeq)
        continue;
      if (matches) next[index] = update;
      else {
        next[index] = { ...update, id: "" }; // marked; dropped below
        removed = true;
      }
    } else if (firstPage && matches) {
      const oldest = next[next.length - 1];
      if (next.length < limit || !oldest || newerFirst(update, oldest) < 0) {
        next.push(update);
        byId.set(update.id, next.length - 1);
        inserted = true;
      }
    }
  }
  if (removed) next = next.filter((r) => r.id !== "");
  if (inserted) next.sort(newerFirst);
  const overflowed = next.length > limit;
  if (overflowed) next.length = limit;
  return { rows: next, overflowed };
}
