/**
 * The embedded log's records frames in Weft's own layout: what is written reads back the same,
 * frames a Weft before this layout wrote (MessagePack) still read, and a payload that does not
 * hold together is reported as such, never decoded into something else.
 */
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { Packr } from "msgpackr";
import {
  encodeFrame,
  HEADER_BYTES,
  opensLikeFrame,
  readFrame,
  type Frame,
  type OffsetEntry,
  type RecordEntry,
} from "../../adapters/embedded/frames";
import { decodeRecordsPayload, encodeRecordsPayload } from "../../adapters/embedded/records-frame";

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const name = fc.string({ minLength: 0, maxLength: 40, unit: "grapheme" });
const record: fc.Arbitrary<RecordEntry> = fc.tuple(
  name,
  fc.nat({ max: 2 ** 32 - 1 }),
  fc.oneof(fc.nat({ max: 2 ** 53 - 1 }), fc.double({ noNaN: true })),
  fc.option(bytes, { nil: null }),
  fc.option(bytes, { nil: null }),
  fc.array(fc.tuple(name, bytes), { maxLength: 5 }),
);
const offset: fc.Arbitrary<OffsetEntry> = fc.tuple(
  name,
  name,
  fc.nat({ max: 2 ** 32 - 1 }),
  fc.nat({ max: 2 ** 53 - 1 }),
);

/** Buffers compared by their bytes (a decoded one is a view of the frame). */
const plain = (frame: unknown): unknown =>
  JSON.parse(
    JSON.stringify(frame, (_, v: unknown) =>
      v && typeof v === "object" && (v as { type?: string }).type === "Buffer"
        ? `bytes:${Buffer.from((v as { data: number[] }).data).toString("hex")}`
        : v,
    ),
  );

it("reads back every records frame as written", () => {
  fc.assert(
    fc.property(
      fc.array(record, { maxLength: 20 }),
      fc.array(offset, { maxLength: 4 }),
      (records, offsets) => {
        const frame: Frame = [2, records, offsets];
        const bytes = encodeFrame(frame);
        expect(bytes[HEADER_BYTES]).toBe(0xc1);
        expect(opensLikeFrame(bytes, 0)).toBe(true);
        const read = readFrame(bytes, 0);
        expect(read.ok).toBe(true);
        if (!read.ok) return;
        expect(read.end).toBe(bytes.length);
        expect(plain(read.frame)).toEqual(plain(frame));
      },
    ),
    { numRuns: 300 },
  );
});

it("still reads a records frame written as MessagePack, by a Weft before this layout", () => {
  const records: RecordEntry[] = [
    ["weft.history", 3, 1_700_000_000_000, Buffer.from("wf-1"), Buffer.from("v"), []],
    ["weft.tasks.default", 0, 1_700_000_000_001, null, null, [["h", Buffer.from("x")]]],
  ];
  const payload = new Packr({ useRecords: false, mapsAsObjects: true }).pack([2, records, []]);
  const old = Buffer.alloc(HEADER_BYTES + payload.length);
  old.writeUInt32LE(payload.length, 0);
  old.writeUInt32LE(crc32(payload), 4);
  payload.copy(old, HEADER_BYTES);
  const read = readFrame(old, 0);
  expect(read.ok && plain(read.frame)).toEqual(plain([2, records, []]));
});

it("refuses a payload cut short, or one with bytes past its records", () => {
  const payload = encodeRecordsPayload(
    [["t", 0, 1, Buffer.from("key"), Buffer.from("value"), [["h", Buffer.from("x")]]]],
    [["g", "t", 0, 7]],
  )!;
  for (let cut = 2; cut < payload.length; cut++)
    expect(() => decodeRecordsPayload(payload.subarray(0, cut))).toThrow(RangeError);
  expect(() => decodeRecordsPayload(Buffer.concat([payload, Buffer.from([0])]))).toThrow(
    /past its end/,
  );
});
