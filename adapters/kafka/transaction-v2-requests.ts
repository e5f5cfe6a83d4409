/**
 * The requests of Kafka's second transaction protocol (KIP-890, Kafka 4.0 and later, on a
 * cluster that finalizes `transaction.version` 2): a Produce v12 adds its partitions to the
 * transaction and a TxnOffsetCommit v5 adds the group's offsets, so neither AddPartitionsToTxn
 * nor AddOffsetsToTxn is sent; each EndTxn v5 answers with the producer's next epoch, which the
 * next transaction uses, so a write of a zombie from the transaction before is refused.
 *
 * The three are flexible versions (compact strings and arrays, tagged fields), which kafkajs
 * 2.2.4 does not encode. They are sent over its connections, as the other requests made here
 * are. Their request header is v2: the v1 header kafkajs writes, then an empty tagged-field
 * section, with which each body below begins. Their response header is v1: kafkajs reads the
 * correlation ID, and each decoder below first skips the empty tagged fields after it.
 */
import { produceBodyV12, type EncodedBody } from "./produce-body";
import { PRODUCE_API_KEY, type ProduceTopicData } from "./produce-request";
import { kafkajsModule } from "./kafkajs-modules";

interface Encoder {
  writeInt16(value: number): Encoder;
  writeInt32(value: number): Encoder;
  writeInt64(value: string | number): Encoder;
  writeBoolean(value: boolean): Encoder;
  writeUVarInt(value: number): Encoder;
  writeUVarIntString(value: string | null): Encoder;
  writeUVarIntBytes(value: Buffer): Encoder;
  writeUVarIntArray(values: Encoder[], type: "object"): Encoder;
}
interface Decoder {
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarInt(): number;
  readUVarIntArray<T>(reader: (decoder: Decoder) => T): T[] | null;
  forward(bytes: number): void;
}

const Encoder = kafkajsModule("./src/protocol/encoder") as new (initialSize?: number) => Encoder;
const Decoder = kafkajsModule("./src/protocol/decoder") as new (buffer: Buffer) => Decoder;
const errors = kafkajsModule("./src/protocol/error") as {
  failure(code: number): boolean;
  createErrorFromCode(code: number): Error;
};

const END_TXN_API_KEY = 26;
const TXN_OFFSET_COMMIT_API_KEY = 28;
/** The first versions of the second protocol; a broker offers them only once it is finalized. */
const PRODUCE_V2 = 12;
const END_TXN_V2 = 5;
const TXN_OFFSET_COMMIT_V2 = 5;

type Versions = Record<number, { minVersion: number; maxVersion: number }> | undefined;

/**
 * Whether a broker speaks the second transaction protocol. A 4.x broker whose cluster has not
 * finalized `transaction.version` 2 offers Produce up to v11, EndTxn and TxnOffsetCommit up to
 * v4 (KIP-890), so the versions alone tell.
 */
export function speaksTransactionV2(versions: Versions): boolean {
  const max = (apiKey: number) => versions?.[apiKey]?.maxVersion ?? -1;
  return (
    max(PRODUCE_API_KEY) >= PRODUCE_V2 &&
    max(END_TXN_API_KEY) >= END_TXN_V2 &&
    max(TXN_OFFSET_COMMIT_API_KEY) >= TXN_OFFSET_COMMIT_V2
  );
}

interface Response<T> {
  decode(raw: Buffer): Promise<T>;
  parse(data: T): Promise<T>;
}

export interface FlexibleRequest<T> {
  request: {
    apiKey: number;
    apiVersion: number;
    apiName: string;
    expectResponse?: () => boolean;
    encode(): Promise<Encoder | EncodedBody>;
  };
  response: Response<T>;
}

/** A body of a flexible request: the request header's empty tagged fields come first. */
const body = () => new Encoder().writeUVarInt(0);
const noTags = (encoder: Encoder) => encoder.writeUVarInt(0);

/** Each topic of a request: its name, then its partitions, each encoded by `partition`. */
function topicArray<P>(
  topics: readonly { topic: string; partitions: readonly P[] }[],
  partition: (each: P) => Encoder,
): Encoder[] {
  return topics.map(({ topic, partitions }) =>
    noTags(
      new Encoder().writeUVarIntString(topic).writeUVarIntArray(
        partitions.map((each) => noTags(partition(each))),
        "object",
      ),
    ),
  );
}

/** The response, or the broker's error for its first failed code, as kafkajs's parsers give. */
function parsed<T>(data: T, codes: readonly number[]): Promise<T> {
  const failed = codes.find((code) => errors.failure(code));
  return failed === undefined
    ? Promise.resolve(data)
    : Promise.reject(errors.createErrorFromCode(failed));
}

/**
 * Skips a tagged-field section: a count, then each field's tag and size (plain unsigned
 * varints, not the size + 1 of compact bytes) and its bytes. A broker fills some of them, as
 * the new leader of a partition beside a NOT_LEADER_OR_FOLLOWER error in a Produce response;
 * kafkajs's own reader takes the size for size + 1 and would lose a byte at each.
 */
function skipTaggedFields(decoder: Decoder): void {
  const count = decoder.readUVarInt();
  for (let i = 0; i < count; i++) {
    decoder.readUVarInt(); // tag
    decoder.forward(decoder.readUVarInt());
  }
}

/**
 * The error code of each partition in a response's topics (name, then partitions: index,
 * error code, then what `rest` reads, then tagged fields), in the order the broker lists them.
 */
function partitionErrors(decoder: Decoder, rest: (partition: Decoder) => void): number[] {
  const codes: number[] = [];
  decoder.readUVarIntArray((topic) => {
    topic.readUVarIntString();
    topic.readUVarIntArray((partition) => {
      partition.readInt32();
      codes.push(partition.readInt16());
      rest(partition);
      skipTaggedFields(partition);
    });
    skipTaggedFields(topic);
  });
  return codes;
}

/** A decoder of a flexible response, past the response header's tagged fields. */
function responseDecoder(raw: Buffer): Decoder {
  const decoder = new Decoder(raw);
  skipTaggedFields(decoder);
  return decoder;
}

/** Produce v12 of ready-made record batches: a transactional one adds its partitions. */
export function produceV12(args: {
  transactionalId: string | null;
  acks: number;
  timeout: number;
  topicData: readonly ProduceTopicData[];
}): FlexibleRequest<{ errorCodes: number[] }> {
  return {
    request: {
      apiKey: PRODUCE_API_KEY,
      apiVersion: PRODUCE_V2,
      apiName: "Produce",
      expectResponse: () => args.acks !== 0,
      encode: () => Promise.resolve(produceBodyV12(args)),
    },
    response: {
      decode: (raw) => {
        const decoder = responseDecoder(raw);
        const errorCodes = partitionErrors(decoder, (partition) => {
          partition.readInt64(); // base offset
          partition.readInt64(); // log append time
          partition.readInt64(); // log start offset
          partition.readUVarIntArray((recordError) => {
            recordError.readInt32();
            recordError.readUVarIntString();
            skipTaggedFields(recordError);
          });
          partition.readUVarIntString(); // error message
        });
        return Promise.resolve({ errorCodes });
      },
      parse: (data) => parsed(data, data.errorCodes),
    },
  };
}

export interface ProducerIdentity {
  transactionalId: string;
  producerId: string;
  producerEpoch: number;
}

/** EndTxn v5: ends the transaction and answers with the producer ID and epoch to go on with. */
export function endTxnV5(
  args: ProducerIdentity & { committed: boolean },
): FlexibleRequest<{ errorCode: number; producerId: string; producerEpoch: number }> {
  return {
    request: {
      apiKey: END_TXN_API_KEY,
      apiVersion: END_TXN_V2,
      apiName: "EndTxn",
      encode: () =>
        Promise.resolve(
          noTags(
            body()
              .writeUVarIntString(args.transactionalId)
              .writeInt64(args.producerId)
              .writeInt16(args.producerEpoch)
              .writeBoolean(args.committed),
          ),
        ),
    },
    response: {
      decode: (raw) => {
        const decoder = responseDecoder(raw);
        decoder.readInt32(); // throttle time
        const errorCode = decoder.readInt16();
        const producerId = decoder.readInt64().toString();
        const producerEpoch = decoder.readInt16();
        return Promise.resolve({ errorCode, producerId, producerEpoch });
      },
      parse: (data) => parsed(data, [data.errorCode]),
    },
  };
}

/**
 * TxnOffsetCommit v5 of a producer that is not a member of the group (generation -1, no member
 * ID): the decider commits the offsets of the partitions it owns, fenced by its producer epoch.
 */
export function txnOffsetCommitV5(
  args: ProducerIdentity & {
    groupId: string;
    topics: readonly { topic: string; partitions: { partition: number; offset: string }[] }[];
  },
): FlexibleRequest<{ errorCodes: number[] }> {
  return {
    request: {
      apiKey: TXN_OFFSET_COMMIT_API_KEY,
      apiVersion: TXN_OFFSET_COMMIT_V2,
      apiName: "TxnOffsetCommit",
      encode: () =>
        Promise.resolve(
          noTags(
            body()
              .writeUVarIntString(args.transactionalId)
              .writeUVarIntString(args.groupId)
              .writeInt64(args.producerId)
              .writeInt16(args.producerEpoch)
              .writeInt32(-1) // generation
              .writeUVarIntString("") // member ID
              .writeUVarIntString(null) // group instance ID
              .writeUVarIntArray(
                topicArray(args.topics, ({ partition, offset }) =>
                  new Encoder()
                    .writeInt32(partition)
                    .writeInt64(offset)
                    .writeInt32(-1) // leader epoch: unknown
                    .writeUVarIntString(null),
                ),
                "object",
              ),
          ),
        ),
    },
    response: {
      decode: (raw) => {
        const decoder = responseDecoder(raw);
        decoder.readInt32(); // throttle time
        const errorCodes = partitionErrors(decoder, () => undefined);
        return Promise.resolve({ errorCodes });
      },
      parse: (data) => parsed(data, data.errorCodes),
    },
  };
}
