/** The runs list's live merge (dashboard/src/live-rows.ts): bounded, ordered, filter-true. */
import type { RunRow } from "../../dashboard/src/api/types";
import { matchesFilter, mergeRows } from "../../dashboard/src/live-rows";

const row = (id: string, second: number, status: RunRow["status"] = "RUNNING", lastSeq = 1) => ({
  id,
  type: id.startsWith("o") ? "orderFlow" : "sync",
  status,
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  closedAt: null,
  updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 1, lastSeq)).toISOString(),
  lastSeq,
});

it("inserts new runs in order on the first page and never holds more than the limit", () => {
  const page = [row("o3", 30), row("o2", 20), row("o1", 10)];
  const merged = mergeRows(page, [row("o4", 40), row("o5", 50)], {}, true, 4);
  expect(merged.rows.map((r) => r.id)).toEqual(["o5", "o4", "o3", "o2"]);
  expect(merged.overflowed).toBe(true);
  // Older pages change rows in place but take no new runs.
  const older = mergeRows(page, [row("o4", 40), row("o2", 20, "COMPLETED", 5)], {}, false, 4);
  expect(older.rows.map((r) => [r.id, r.status])).toEqual([
    ["o3", "RUNNING"],
    ["o2", "COMPLETED"],
    ["o1", "RUNNING"],
  ]);
});

it("drops a run that leaves the filter and ignores updates older than what it shows", () => {
  const page = [row("o2", 20, "RUNNING", 3), row("o1", 10, "RUNNING", 3)];
  const merged = mergeRows(
    page,
    [row("o2", 20, "COMPLETED", 9), row("o1", 10, "RUNNING", 2)],
    { status: "RUNNING" },
    true,
    50,
  );
  expect(merged.rows.map((r) => [r.id, r.lastSeq])).toEqual([["o1", 3]]);
});

it("matches type, text (ID or type, any case) and start time like the API", () => {
  const r = row("order-42", 30);
  expect(matchesFilter(r, { type: "orderFlow" })).toBe(true);
  expect(matchesFilter(r, { type: "sync" })).toBe(false);
  expect(matchesFilter(r, { text: "ORDER-4" })).toBe(true);
  expect(matchesFilter(r, { text: "nope" })).toBe(false);
  expect(matchesFilter(r, { from: "2026-01-01T00:00:30.000Z" })).toBe(true);
  expect(matchesFilter(r, { to: "2026-01-01T00:00:30.000Z" })).toBe(false);
});
