/**
 * The record batch decoder of the compacted reader against kafkajs's own encoder and decoder:
 * for any records, both read the same offsets, timestamps, keys, values and headers.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import { decodeBatch, RecordBatchError } from "../../adapters/kafka/record-batches";

const kafkajs = createRequire(require.resolve("kafkajs"));
const Long = kafkajs("./src/utils/long") as { fromValue(v: string | number): unknown };
const { RecordBatch } = kafkajs("./src/protocol/recordBatch/v0") as {
  RecordBatch: (args: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const Record = kafkajs("./src/protocol/recordBatch/record/v0") as (args: unknown) => unknown;
const Decoder = kafkajs("./src/protocol/decoder") as new (b: Buffer) => unknown;
const decodeKafkajs = kafkajs("./src/protocol/recordBatch/v0/decoder") as (d: unknown) => Promise<{
  records: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: unknown;
  }[];
}>;

interface Input {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  timestampDelta: number;
}

const bytes = fc.option(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  {
    nil: null,
  },
);
const headerValue = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a));
const records = fc.array(
  fc.record({
    key: bytes,
    value: bytes,
    headers: fc.dictionary(
      // kafkajs's decoder, the reference here, reads a key named like a property of
      // Object.prototype (valueOf, __proto__) wrongly; test/embedded/header-keys.test.ts
      // holds Weft's decoders to those.
      fc.string({ maxLength: 12 }).filter((key) => !(key in Object.prototype)),
      fc.oneof(headerValue, fc.array(headerValue, { minLength: 2, maxLength: 3 })),
      { maxKeys: 4 },
    ),
    timestampDelta: fc.integer({ min: 0, max: 2 ** 40 }),
  }),
  { minLength: 1, maxLength: 20 },
);

async function encode(
  inputs: Input[],
  firstOffset: string,
  firstTimestamp: number,
  options: { compression?: number; transactional?: boolean } = {},
): Promise<Buffer> {
  const encoded = await RecordBatch({
    firstOffset: Long.fromValue(firstOffset),
    firstTimestamp,
    maxTimestamp: firstTimestamp,
    lastOffsetDelta: inputs.length - 1,
    transactional: options.transactional ?? false,
    producerId: Long.fromValue("4242"),
    compression: options.compression ?? 0,
    records: inputs.map((r, i) => Record({ ...r, offsetDelta: i })),
  });
  return encoded.buffer;
}

test("decodes what kafkajs encodes, as kafkajs decodes it", async () => {
  await fc.assert(
    fc.asyncProperty(
      records,
      fc.bigInt({ min: 0n, max: 2n ** 62n }),
      fc.integer({ min: 0, max: 2 ** 45 }),
      fc.boolean(),
      async (inputs, firstOffset, firstTimestamp, transactional) => {
        const buffer = await encode(inputs, firstOffset.toString(), firstTimestamp, {
          transactional,
        });
        const decoded = decodeBatch(buffer, 0);
        expect(decoded?.next).toBe(buffer.length);
        const ours = decoded!.batch;
        const theirs = await decodeKafkajs(new Decoder(buffer));
        expect(ours.baseOffset).toBe(firstOffset);
        expect(ours.lastOffset).toBe(firstOffset + BigInt(inputs.length - 1));
        expect(ours.transactional).toBe(transactional);
        expect(ours.producerId).toBe("4242");
        expect(ours.records).toHaveLength(theirs.records.length);
        ours.records.forEach((record, i) => {
          const expected = theirs.records[i]!;
          expect(record.offset).toBe(expected.offset);
          expect(record.timestamp).toBe(expected.timestamp);
          expect(record.key).toEqual(expected.key);
          expect(record.value).toEqual(expected.value);
          expect(record.headers).toEqual(expected.headers);
        });
      },
    ),
    { numRuns: 200 },
  );
});

test("a batch the buffer cuts short is left for the next fetch; the batches before it are read", async () => {
  const one = await encode(
    [{ key: null, value: Buffer.from("a"), headers: {}, timestampDelta: 0 }],
    "7",
    1,
  );
  const two = await encode(
    [{ key: null, value: Buffer.from("b"), headers: {}, timestampDelta: 0 }],
    "8",
    1,
  );
  const joined = Buffer.concat([one, two]);
  const first = decodeBatch(joined.subarray(0, joined.length - 3), 0);
  expect(first?.batch.records.map((r) => r.value?.toString())).toEqual(["a"]);
  expect(decodeBatch(joined.subarray(0, joined.length - 3), first!.next)).toBeUndefined();
  expect(decodeBatch(joined, first!.next)?.batch.baseOffset).toBe(8n);
});

test("a compressed batch is reported, not misread; a record past its batch is an error", async () => {
  const gzip = 1;
  const input = [
    { key: Buffer.from("k"), value: Buffer.from("v"), headers: {}, timestampDelta: 0 },
  ];
  const compressed = decodeBatch(await encode(input, "0", 1, { compression: gzip }), 0);
  expect(compressed?.batch.compression).toBe(gzip);
  expect(compressed?.batch.records).toEqual([]);

  const plain = await encode(input, "0", 1);
  // The record count says two records where there is one.
  plain.writeInt32BE(2, 57);
  expect(() => decodeBatch(plain, 0)).toThrow(RecordBatchError);
});

test("the decoded value is a copy that outlives the fetch response; the key is a view", async () => {
  const buffer = await encode(
    [{ key: Buffer.from("key"), value: Buffer.from("value"), headers: {}, timestampDelta: 0 }],
    "0",
    1,
  );
  const record = decodeBatch(buffer, 0)!.batch.records[0]!;
  expect(record.key!.buffer).toBe(buffer.buffer);
  buffer.fill(0);
  expect(record.value!.toString()).toBe("value");
});
