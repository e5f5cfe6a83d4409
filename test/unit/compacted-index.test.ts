/**
 * A compacted partition's index (an entry per live record) answers every question as the
 * per-offset index does, over random appends, compactions and segment deletions; and what it
 * holds follows the live records, not every offset the partition ever had.
 */
import fc from "fast-check";
import { CompactedIndex } from "../../adapters/embedded/compacted-index";
import {
  NO_SEGMENT,
  PartitionIndex,
  type RecordIndex,
} from "../../adapters/embedded/partition-index";

type Op =
  | { kind: "put"; gap: number; segment: number; position: number; slot: number }
  | { kind: "forget"; pick: number }
  | { kind: "forgetPrefix"; length: number }
  | { kind: "extend"; by: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      gap: fc.nat(3),
      segment: fc.nat(5),
      position: fc.nat(1 << 20),
      slot: fc.nat(50),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("forget" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("forgetPrefix" as const), length: fc.nat(20) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), by: fc.nat(5) }) },
);

function apply(index: RecordIndex, o: Op, live: number[]): void {
  switch (o.kind) {
    case "put":
      index.put(index.end + o.gap, o.segment, o.position, o.slot);
      return;
    case "forget":
      if (live.length > 0) index.forget(live[o.pick % live.length]!);
      return;
    case "forgetPrefix":
      index.forgetRange(index.start, index.start + o.length);
      return;
    case "extend":
      index.extendTo(index.end + o.by);
  }
}

function liveOffsets(index: RecordIndex): number[] {
  const out: number[] = [];
  for (let o = 0; o < index.end; o++) if (index.segmentOf(o) !== NO_SEGMENT) out.push(o);
  return out;
}

it("answers as the per-offset index does, whatever was appended and forgotten", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const model = new PartitionIndex();
      const sparse = new CompactedIndex();
      for (const o of ops) {
        const live = liveOffsets(model);
        apply(model, o, live);
        apply(sparse, o, live);
        expect([sparse.start, sparse.end]).toEqual([model.start, model.end]);
      }
      for (let o = 0; o <= model.end + 1; o++) {
        const segment = model.segmentOf(o);
        expect(sparse.segmentOf(o)).toBe(segment);
        if (segment !== NO_SEGMENT) {
          expect(sparse.positionOf(o)).toBe(model.positionOf(o));
          expect(sparse.slotOf(o)).toBe(model.slotOf(o));
        }
        for (const limit of [o, o + 3, model.end])
          expect(sparse.nextHeld(o, limit)).toBe(model.nextHeld(o, limit));
      }
    }),
    { numRuns: 300 },
  );
});

it("holds an entry per live record, not one per offset ever written", () => {
  const index = new CompactedIndex();
  // A changelog: each of 200,000 keys written five times, the earlier records compacted away;
  // every key but the last 100 is then deleted (its tombstone forgotten too).
  for (let offset = 0; offset < 1_000_000; offset++) {
    index.put(offset, 0, offset * 10, 0);
    if (offset % 5 > 0) index.forget(offset - 1);
    if (offset % 5 === 4 && offset < 999_500) index.forget(offset);
  }
  expect(index.end).toBe(1_000_000);
  expect(index.start).toBe(0);
  expect(liveOffsets(index)).toHaveLength(100);
  expect(index.held).toBeLessThan(4096);
  expect(index.nextHeld(0, index.end)).toBe(999_504);
  expect(index.positionOf(999_504)).toBe(9_995_040);
});
