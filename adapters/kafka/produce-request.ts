/**
 * Produce requests for the pipelined producer, of record batches encoded in one buffer each
 * (`encodeRecordBatch`, record-batches.ts) and a body written in one (produce-body.ts) rather
 * than through kafkajs's encoders. The request is Produce v7 (Kafka 2.1 and later; a 4.x
 * broker speaks v3 to v12), sent over kafkajs's connections with its response parser, as the
 * compacted reader sends Fetch.
 */
import { kafkajsRequestVersion } from "./kafkajs-modules";
import { produceBodyV7 } from "./produce-body";

const produceResponse = kafkajsRequestVersion("produce", "v7/response") as {
  decode(raw: Buffer): Promise<unknown>;
  parse(data: unknown): Promise<unknown>;
};

export const PRODUCE_API_KEY = 0;
const PRODUCE_VERSION = 7;

export interface ProduceTopicData {
  topic: string;
  partitions: { partition: number; batch: Buffer }[];
}

/** A Produce request of ready-made batches, in the shape kafkajs's connections send. */
export function produceRequest(args: {
  transactionalId: string | null;
  acks: number;
  timeout: number;
  topicData: readonly ProduceTopicData[];
}): {
  request: unknown;
  response: typeof produceResponse;
} {
  const request = {
    apiKey: PRODUCE_API_KEY,
    apiVersion: PRODUCE_VERSION,
    apiName: "Produce",
    expectResponse: () => args.acks !== 0,
    encode: () => Promise.resolve(produceBodyV7(args)),
  };
  return { request, response: produceResponse };
}
