/**
 * The Produce bodies written in one buffer (adapters/kafka/produce-body.ts) are byte for byte
 * what kafkajs's encoders wrote for the same request, in both versions the pipelined producer
 * sends: v7 (int16 strings, int32 counts and lengths) and v12 (compact strings, arrays and
 * records, tagged fields), with lengths that take one, two and three varint bytes.
 */
import { kafkajsModule } from "../../adapters/kafka/kafkajs-modules";
import {
  produceBodyV12,
  produceBodyV7,
  type ProduceBodyArgs,
} from "../../adapters/kafka/produce-body";

interface Encoder {
  buffer: Buffer;
  writeString(value: string | null): Encoder;
  writeInt16(value: number): Encoder;
  writeInt32(value: number): Encoder;
  writeBuffer(value: Buffer): Encoder;
  writeArray(values: Encoder[]): Encoder;
  writeUVarInt(value: number): Encoder;
  writeUVarIntString(value: string | null): Encoder;
  writeUVarIntBytes(value: Buffer): Encoder;
  writeUVarIntArray(values: Encoder[], type: "object"): Encoder;
}
const Encoder = kafkajsModule("./src/protocol/encoder") as new (initialSize?: number) => Encoder;

/** The body as kafkajs's encoders write Produce v7. */
function kafkajsV7(args: ProduceBodyArgs): Buffer {
  return new Encoder()
    .writeString(args.transactionalId)
    .writeInt16(args.acks)
    .writeInt32(args.timeout)
    .writeArray(
      args.topicData.map(({ topic, partitions }) =>
        new Encoder()
          .writeString(topic)
          .writeArray(
            partitions.map(({ partition, batch }) =>
              new Encoder().writeInt32(partition).writeInt32(batch.length).writeBuffer(batch),
            ),
          ),
      ),
    ).buffer;
}

/** The body as kafkajs's encoders write Produce v12, the header's tagged fields first. */
function kafkajsV12(args: ProduceBodyArgs): Buffer {
  const noTags = (e: Encoder) => e.writeUVarInt(0);
  return noTags(
    new Encoder()
      .writeUVarInt(0)
      .writeUVarIntString(args.transactionalId)
      .writeInt16(args.acks)
      .writeInt32(args.timeout)
      .writeUVarIntArray(
        args.topicData.map(({ topic, partitions }) =>
          noTags(
            new Encoder().writeUVarIntString(topic).writeUVarIntArray(
              partitions.map(({ partition, batch }) =>
                noTags(new Encoder().writeInt32(partition).writeUVarIntBytes(batch)),
              ),
              "object",
            ),
          ),
        ),
        "object",
      ),
  ).buffer;
}

const bytes = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

const cases: [string, ProduceBodyArgs][] = [
  [
    "no topics, no transactional ID",
    { transactionalId: null, acks: 1, timeout: 30_000, topicData: [] },
  ],
  [
    "one partition of a small batch",
    {
      transactionalId: "weft.decider.p0",
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: "weft.history", partitions: [{ partition: 3, batch: bytes(61, 1) }] }],
    },
  ],
  [
    "several topics and partitions, lengths of one to three varint bytes, a name not in ASCII",
    {
      transactionalId: "tx-é",
      acks: -1,
      timeout: 5000,
      topicData: [
        {
          topic: "weft.history",
          partitions: [
            { partition: 0, batch: bytes(126, 2) },
            { partition: 1, batch: bytes(127, 3) },
            { partition: 2, batch: bytes(20_000, 4) },
          ],
        },
        { topic: "weft.tasks.ünïcode", partitions: [{ partition: 7, batch: bytes(0, 5) }] },
        {
          topic: "t".repeat(130),
          partitions: Array.from({ length: 130 }, (_, i) => ({ partition: i, batch: bytes(i, i) })),
        },
      ],
    },
  ],
];

it.each(cases)("writes Produce v7 as kafkajs's encoders do: %s", (_, args) => {
  expect(produceBodyV7(args).buffer.equals(kafkajsV7(args))).toBe(true);
});

it.each(cases)("writes Produce v12 as kafkajs's encoders do: %s", (_, args) => {
  expect(produceBodyV12(args).buffer.equals(kafkajsV12(args))).toBe(true);
});

it("gives kafkajs's request framing an encoder's buffer and the bytes written", () => {
  const body = produceBodyV12(cases[1]![1]);
  expect(Buffer.isBuffer(body.buf)).toBe(true);
  expect(body.buffer).toBe(body.buf);
});
