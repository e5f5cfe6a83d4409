/**
 * Opening the embedded log replays its active segment frame by frame through a small buffer
 * (`scanLogFile`) instead of reading it whole: over any file — frames of any size, some larger
 * than the buffer, a torn tail, bytes flipped in the middle, garbage after the end — it must
 * hand over the same frames at the same positions and find the same damage as the scan of the
 * whole file, which `weft repair` still uses.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { encodeFrame, MAGIC, type Frame } from "../../adapters/embedded/frames";
import { scanLog, scanLogFile } from "../../adapters/embedded/log-scan";

const recordsFrame = (values: number[], pad: number): Frame => [
  2,
  values.map((v, i) => [
    "t",
    i % 3,
    v,
    Buffer.from(`k${v}`),
    Buffer.alloc(pad, v % 251),
    [["h", Buffer.from("x")]],
  ]),
  [["g", "t", 0, values.length]],
];

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .tuple(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 4 }), fc.nat(600))
    .map(([values, pad]) => recordsFrame(values, pad)),
  fc.nat(9).map((n): Frame => [1, `topic-${n}`, n + 1, n % 2 === 0, -1]),
  fc.nat(9).map((n): Frame => [3, `group-${n}`]),
);

/** What is done to the file after its frames: nothing, a cut, flipped bytes, appended bytes. */
type Fault =
  | { kind: "none" }
  | { kind: "cut"; at: number }
  | { kind: "flip"; at: number }
  | { kind: "append"; bytes: Uint8Array };
const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant<Fault>({ kind: "none" }),
  fc.nat().map((at): Fault => ({ kind: "cut", at })),
  fc.nat().map((at): Fault => ({ kind: "flip", at })),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes): Fault => ({ kind: "append", bytes })),
);

function fileOf(frames: Frame[], f: Fault): Buffer {
  let data = Buffer.concat([MAGIC, ...frames.map(encodeFrame)]);
  const body = data.length - MAGIC.length;
  if (f.kind === "cut" && body > 0) data = data.subarray(0, MAGIC.length + (f.at % body));
  if (f.kind === "flip" && body > 0) {
    data = Buffer.from(data);
    const at = MAGIC.length + (f.at % body);
    data[at] = data[at]! ^ 0xa5;
  }
  if (f.kind === "append") data = Buffer.concat([data, f.bytes]);
  return data;
}

/** Buffers compared by their bytes (a decoded one is a view of what was read). */
const plain = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_, v: unknown) =>
      v && typeof v === "object" && (v as { type?: string }).type === "Buffer"
        ? Buffer.from((v as { data: number[] }).data).toString("hex")
        : v,
    ),
  );

describe("scanning a log file through a bounded buffer", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "weft-log-scan-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function scanFile(data: Buffer, chunkBytes: number) {
    const file = join(dir, "segment.wal");
    writeFileSync(file, data);
    const fd = openSync(file, "r");
    try {
      const frames: unknown[] = [];
      const positions: number[] = [];
      const extent = scanLogFile(
        fd,
        data.length,
        (f, position) => {
          frames.push(plain(f));
          positions.push(position);
        },
        chunkBytes,
      );
      return { frames, positions, ...extent };
    } finally {
      closeSync(fd);
    }
  }

  it("hands over what a whole-file scan finds, damage included, whatever the buffer's size", () => {
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 30 }),
        fault,
        fc.integer({ min: 16, max: 4096 }),
        (frames, f, chunkBytes) => {
          const data = fileOf(frames, f);
          const whole = scanLog(data);
          const streamed = scanFile(data, chunkBytes);
          expect(streamed.frames).toEqual(whole.frames.map(plain));
          expect(streamed.positions).toEqual(whole.positions);
          expect(streamed.validEnd).toBe(whole.validEnd);
          expect(streamed.size).toBe(whole.size);
          expect(streamed.damage).toEqual(whole.damage);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads a frame larger than its buffer whole, and tells a frame cut short from corruption", () => {
    const big = recordsFrame([1, 2, 3], 50_000);
    const data = Buffer.concat([MAGIC, encodeFrame(big), encodeFrame([3, "g"])]);
    const streamed = scanFile(data, 1024);
    expect(streamed.frames).toEqual([plain(big), plain([3, "g"])]);
    expect(streamed.damage).toBeUndefined();

    const torn = scanFile(data.subarray(0, data.length - 3), 1024);
    expect(torn.frames).toHaveLength(1);
    expect(torn.damage).toMatchObject({
      kind: "torn",
      offset: MAGIC.length + encodeFrame(big).length,
    });

    const flipped = Buffer.from(data);
    flipped[MAGIC.length + 100] = flipped[MAGIC.length + 100]! ^ 0xff;
    const corrupt = scanFile(flipped, 1024);
    expect(corrupt.frames).toEqual([]);
    expect(corrupt.damage).toMatchObject({
      kind: "corrupt",
      offset: MAGIC.length,
      fault: "fails its checksum",
      nextFrame: data.length - encodeFrame([3, "g"]).length,
      framesAfter: 1,
    });
  });
});
