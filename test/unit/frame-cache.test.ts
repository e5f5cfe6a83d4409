/** The embedded log's frame cache: its bound counts the records' objects, not only bytes. */
import { FrameCache } from "../../adapters/embedded/frame-cache";
import type { RecordEntry } from "../../adapters/embedded/frames";

const records = (n: number): RecordEntry[] =>
  Array.from({ length: n }, (_, i) => ["t", 0, 0, null, Buffer.from(`v${i}`), []]);

it("holds fewer frames of many small records than their bytes alone would allow", () => {
  // 20 frames of 100 bytes fit 4,000 bytes by bytes alone; with 10 records each, two do.
  const cache = new FrameCache(12_000);
  for (let position = 0; position < 20; position++) cache.set(0, position, records(10), 100);
  const held = Array.from({ length: 20 }, (_, p) => cache.get(0, p) !== undefined);
  expect(held.filter(Boolean)).toHaveLength(2);
  // The most recently set frames stay.
  expect(held.slice(-2)).toEqual([true, true]);
});

it("keeps a frame of few large records by its bytes", () => {
  const cache = new FrameCache(12_000);
  cache.set(0, 0, records(1), 5_000);
  cache.set(0, 1, records(1), 5_000);
  expect(cache.get(0, 0)).toBeDefined();
  cache.set(0, 2, records(1), 5_000);
  // Three frames of 5,512 bytes exceed 12,000: the least recently used (frame 1) went.
  expect(cache.get(0, 1)).toBeUndefined();
  expect(cache.get(0, 0)).toBeDefined();
  expect(cache.get(0, 2)).toBeDefined();
});
