/**
 * What the compacted reader delivers from one fetch's batches: read_committed as the Java
 * consumer does it, and a position that moves past every batch, empty ones included.
 */
import { committedRecords, type StoredBatch } from "../../adapters/kafka/compacted-reader";

const record = (offset: number, key = `k${offset}`) => ({
  key: Buffer.from(key),
  value: Buffer.from(`v${offset}`),
  timestamp: "0",
  attributes: 0,
  offset: String(offset),
  headers: {},
});

/** A control record's key: version 0, then 0 (abort) or 1 (commit). */
const marker = (offset: number, type: 0 | 1) => ({
  ...record(offset),
  key: Buffer.from([0, 0, 0, type]),
  value: Buffer.alloc(6),
});

function batch(
  base: number,
  last: number,
  producerId: string,
  records: StoredBatch["records"],
  kind: { transactional?: boolean; control?: boolean } = {},
): StoredBatch {
  return {
    baseOffset: BigInt(base),
    lastOffset: BigInt(last),
    producerId,
    transactional: kind.transactional ?? true,
    control: kind.control ?? false,
    records,
  };
}

const offsets = (r: ReturnType<typeof committedRecords>) => r.records.map((m) => Number(m.offset));

it("steps over an empty batch, data or control, to the next batch's base offset", () => {
  const fetched = {
    abortedTransactions: [],
    batches: [
      batch(0, 1, "1", [record(0), record(1)]),
      batch(2, 4, "2", []),
      batch(5, 5, "2", [], { control: true }),
    ],
  };
  expect(committedRecords(fetched, 0n)).toMatchObject({ next: 6n });
  expect(offsets(committedRecords(fetched, 0n))).toEqual([0, 1]);
  // Alone in a fetch's answer (the end of a segment): the position still moves.
  expect(
    committedRecords({ abortedTransactions: [], batches: [batch(2, 4, "2", [])] }, 2n),
  ).toEqual({ records: [], next: 5n });
});

it("leaves out records before the position, control records and aborted transactions", () => {
  const fetched = {
    abortedTransactions: [{ producerId: "7", firstOffset: "3" }],
    batches: [
      batch(0, 2, "1", [record(0), record(1), record(2)]),
      batch(3, 4, "7", [record(3), record(4)]),
      batch(5, 5, "1", [record(5)]),
      batch(6, 6, "7", [marker(6, 0)], { control: true }),
      batch(7, 7, "1", [marker(7, 1)], { control: true }),
      // After its abort marker, producer 7's next transaction counts.
      batch(8, 8, "7", [record(8)]),
      // A producer with no transaction listed as aborted.
      batch(9, 9, "9", [record(9)], { transactional: false }),
    ],
  };
  const read = committedRecords(fetched, 1n);
  expect(offsets(read)).toEqual([1, 2, 5, 8, 9]);
  expect(read.next).toBe(10n);
});

it("does not move when the fetch returned nothing", () => {
  expect(committedRecords({ abortedTransactions: [], batches: [] }, 42n)).toEqual({
    records: [],
    next: 42n,
  });
});
