/**
 * Reads a compacted topic's partitions from the beginning by fetching them directly, so that
 * empty record batches do not stop the read.
 *
 * Kafka's log cleaner keeps the header of a batch whose records it removed when that batch
 * holds a producer's last sequence (its records all superseded, or its transaction aborted).
 * When such a batch is the last one of a segment, a fetch at its offset returns it alone:
 * kafkajs decodes the response's batches into their records only, finds none, and neither
 * delivers anything nor moves its position, so every later fetch returns the same batch
 * (kafkajs issues #562, #1072). This reader decodes the batches itself and moves to the next
 * batch's base offset (base offset + last offset delta + 1) whatever the batch held.
 *
 * It speaks the Fetch API (version 11, Kafka 2.3 and later) over kafkajs's own connections,
 * protocol encoders and record decoders: kafkajs 2.2.4 (pinned) exposes none of them, so they
 * are loaded by path, and the client's cluster factory (the one its producers, consumers and
 * admins are made with, same brokers, TLS and SASL) is found by its symbol. A client that has
 * none (the embedded log) is not readable here: `canReadCompacted` says so, and callers use
 * the consumer-group reader, which has no empty batches to meet there.
 *
 * read_committed is kept as the Java consumer keeps it: a transactional batch of a producer
 * whose aborted transaction the broker lists is skipped up to that producer's abort marker;
 * control batches are skipped.
 */
import type { KafkaPort, PortConsumedMessage } from "../../transport/port";
import { readableRanges, ReadStalledError } from "../../transport/history-reader";
import { withAdmin } from "../../transport/topics";
import {
  clusterFactory,
  READ_COMMITTED,
  sendRequest,
  type KafkajsCluster,
} from "./kafkajs-cluster";
import { decodeBatch, type DecodedRecord } from "./record-batches";
import { isTransient } from "./transient-errors";
import { kafkajsModule, kafkajsRequestVersion } from "./kafkajs-modules";

interface KafkajsDecoder {
  readInt8(): number;
  readInt32(): number;
  readInt16(): number;
  readInt64(): { toString(): string };
  readString(): string;
  readArray<T>(read: (d: KafkajsDecoder) => T): T[];
  readArrayAsync<T>(read: (d: KafkajsDecoder) => Promise<T>): Promise<T[]>;
  readBytes(n: number): Buffer;
  canReadBytes(n: number): boolean;
}
type DecoderCtor = new (buffer: Buffer) => KafkajsDecoder;

export type StoredRecord = DecodedRecord;

interface KafkajsBatch {
  firstOffset: string;
  lastOffsetDelta: number;
  producerId: string;
  inTransaction: boolean;
  isControlBatch: boolean;
  records: StoredRecord[];
}

const Decoder = kafkajsModule("./src/protocol/decoder") as DecoderCtor;
const decodeRecordBatch = kafkajsModule("./src/protocol/recordBatch/v0/decoder") as (
  d: KafkajsDecoder,
) => Promise<KafkajsBatch>;
const fetchV11Request = kafkajsRequestVersion("fetch", "v11/request") as (args: {
  replicaId: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  topics: {
    topic: string;
    partitions: { partition: number; fetchOffset: string; maxBytes: number }[];
  }[];
}) => unknown;
/** Throws the partition's error (kafkajs's error types, OFFSET_OUT_OF_RANGE as its own). */
const parseFetch = (
  kafkajsRequestVersion("fetch", "v11/response") as {
    parse: (data: FetchResponse) => Promise<FetchResponse>;
  }
).parse;
const FETCH_API_KEY = 1;

/** A record batch as the broker stored it: where it starts and ends, even when empty. */
export interface StoredBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  producerId: string;
  transactional: boolean;
  control: boolean;
  records: StoredRecord[];
}

interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset: string;
  logStartOffset: string;
  abortedTransactions: { producerId: string; firstOffset: string }[];
  batches: StoredBatch[];
}

interface FetchResponse {
  clientSideThrottleTime: number;
  errorCode: number;
  responses: { topicName: string; partitions: FetchedPartition[] }[];
}

/** The magic byte of record batches (message format v2, the only one Kafka 4 writes). */
const MAGIC_V2 = 2;
const MAGIC_OFFSET = 16;

async function decodeBatches(decoder: KafkajsDecoder): Promise<StoredBatch[]> {
  const size = decoder.readInt32();
  if (size <= 0 || !decoder.canReadBytes(size)) return [];
  const buffer = decoder.readBytes(size);
  if (buffer.length > MAGIC_OFFSET && buffer.readInt8(MAGIC_OFFSET) !== MAGIC_V2) {
    throw new Error(`record format ${buffer.readInt8(MAGIC_OFFSET)} is not supported`);
  }
  const batches: StoredBatch[] = [];
  let pos = 0;
  for (;;) {
    // Undefined where the fetch's byte limit fell inside a batch: the next fetch starts there.
    const decoded = decodeBatch(buffer, pos);
    if (!decoded) break;
    const { batch } = decoded;
    if (batch.compression === 0) batches.push(batch);
    else {
      // Compressed by a producer other than Weft's: kafkajs's codecs decode its records.
      const kafkajsBatch = await decodeRecordBatch(new Decoder(buffer.subarray(pos, decoded.next)));
      batches.push({ ...batch, records: kafkajsBatch.records });
    }
    pos = decoded.next;
  }
  return batches;
}

/** Fetch response v11, as kafkajs decodes it, with the record set kept as batches. */
async function decodeFetch(raw: Buffer): Promise<FetchResponse> {
  const d = new Decoder(raw);
  const clientSideThrottleTime = d.readInt32();
  const errorCode = d.readInt16();
  d.readInt32(); // session_id
  const responses = await d.readArrayAsync(async (t) => ({
    topicName: t.readString(),
    partitions: await t.readArrayAsync(async (p) => ({
      partition: p.readInt32(),
      errorCode: p.readInt16(),
      highWatermark: p.readInt64().toString(),
      lastStableOffset: p.readInt64().toString(),
      logStartOffset: p.readInt64().toString(),
      abortedTransactions: p.readArray((a) => ({
        producerId: a.readInt64().toString(),
        firstOffset: a.readInt64().toString(),
      })),
      preferredReadReplica: p.readInt32(),
      batches: await decodeBatches(p),
    })),
  }));
  return { clientSideThrottleTime, errorCode, responses };
}

/** True when `kafka` is a kafkajs client this reader can fetch with (not the embedded log). */
export function canReadCompacted(kafka: KafkaPort): boolean {
  return clusterFactory(kafka) !== undefined;
}

/** A connection to a topic's partition leaders that fetches stored batches. */
export class BatchFetcher {
  private readonly cluster: KafkajsCluster;
  private connected = false;

  constructor(
    kafka: KafkaPort,
    readonly topic: string,
    /** Bytes per fetch: a batch larger than this still comes whole (the broker sends it). */
    private readonly maxBytes = 1 << 20,
  ) {
    const create = clusterFactory(kafka);
    if (!create) throw new Error("this Kafka client cannot fetch record batches directly");
    this.cluster = create({ allowAutoTopicCreation: false });
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.connected = true;
    await this.cluster.addTargetTopic(this.topic);
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.cluster.disconnect();
    this.connected = false;
  }

  /**
   * The committed batches of a partition from `offset` on (the first may start before it),
   * at most one segment's worth: what the partition leader answers to one fetch.
   */
  async fetch(partition: number, offset: bigint, maxWaitMs: number): Promise<FetchedPartition> {
    const leaders = this.cluster.findLeaderForPartitions(this.topic, [partition]);
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) throw new Error(`no leader known for ${this.topic}/${partition}`);
    const broker = await this.cluster.findBroker({ nodeId });
    const fetchVersion = broker.versions?.[FETCH_API_KEY]?.maxVersion ?? 0;
    if (fetchVersion < 11) throw new Error(`the broker speaks Fetch v${fetchVersion}, not v11`);
    const response = (await sendRequest(broker, {
      request: fetchV11Request({
        replicaId: -1,
        maxWaitTime: maxWaitMs,
        minBytes: 1,
        maxBytes: this.maxBytes,
        isolationLevel: READ_COMMITTED,
        topics: [
          {
            topic: this.topic,
            partitions: [{ partition, fetchOffset: offset.toString(), maxBytes: this.maxBytes }],
          },
        ],
      }),
      response: { decode: decodeFetch, parse: parseFetch },
      requestTimeout: maxWaitMs + 30_000,
      logResponseError: false,
    })) as FetchResponse;
    const found = response.responses
      .find((r) => r.topicName === this.topic)
      ?.partitions.find((p) => p.partition === partition);
    if (!found) throw new Error(`the fetch of ${this.topic}/${partition} returned no partition`);
    return found;
  }

  /** After a leader change or a lost connection: the next fetch asks the new metadata. */
  async refresh(): Promise<void> {
    await this.cluster.refreshMetadata();
  }
}

/**
 * The records of one fetch's answer that a read_committed consumer at `from` sees (aborted
 * transactions and control records left out), and the offset that follows the last batch.
 */
export function committedRecords(
  fetched: Pick<FetchedPartition, "abortedTransactions" | "batches">,
  from: bigint,
): { records: PortConsumedMessage[]; next: bigint } {
  const aborted = [...fetched.abortedTransactions].sort((a, b) =>
    BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : 1,
  );
  const abortedProducers = new Set<string>();
  const records: PortConsumedMessage[] = [];
  let next = from;
  for (const batch of fetched.batches) {
    if (batch.lastOffset < next) continue;
    while (aborted.length > 0 && BigInt(aborted[0]!.firstOffset) <= batch.lastOffset) {
      abortedProducers.add(aborted.shift()!.producerId);
    }
    if (batch.control) {
      // An abort marker ends the producer's aborted transaction: its next batches count.
      const key = batch.records[0]?.key;
      if (key && key.length >= 4 && key.readInt16BE(2) === 0) {
        abortedProducers.delete(batch.producerId);
      }
    } else if (!(batch.transactional && abortedProducers.has(batch.producerId))) {
      // Only a batch that began before the position holds records already read.
      const partlyRead = batch.baseOffset < next;
      for (const r of batch.records) {
        if (!partlyRead || BigInt(r.offset) >= next) records.push(r);
      }
    }
    next = batch.lastOffset + 1n;
  }
  return { records, next };
}

/**
 * Reads the committed records of some partitions of a compacted topic from the beginning up to
 * the end they had when the read began (read_committed), stepping over empty batches. Throws
 * ReadStalledError when answered fetches leave a partition's position where it is for
 * `stallMs` (none: never; e.g. a transaction left open below the end): the last resort it
 * keeps from the consumer-group reader, for what this one does not foresee.
 */
export async function readCompacted(
  kafka: KafkaPort,
  topic: string,
  partitions: readonly number[],
  onMessage: (partition: number, message: PortConsumedMessage) => void,
  timeoutMs = 60_000,
  stallMs?: number,
): Promise<void> {
  const ranges = await readableRanges(kafka, topic, partitions);
  if (ranges.length === 0) return;
  const fetcher = new BatchFetcher(kafka, topic);
  const deadline = Date.now() + timeoutMs;
  await fetcher.connect();
  try {
    await Promise.all(
      ranges.map(async ({ partition, low, high }) => {
        let offset = low;
        let movedAt = Date.now();
        while (offset < high) {
          const now = Date.now();
          if (now >= deadline) {
            throw new Error(`reading ${topic} partition ${partition} timed out at ${offset}`);
          }
          if (stallMs !== undefined && now - movedAt >= stallMs) {
            throw new ReadStalledError(topic, `${partition}@${offset}`);
          }
          let fetched: FetchedPartition;
          try {
            // Waits on the broker only while the end is beyond the last stable offset (an
            // open transaction): the read aims at the end it saw, committed or aborted.
            fetched = await fetcher.fetch(partition, offset, 200);
          } catch (err) {
            if ((err as Error).name === "KafkaJSOffsetOutOfRange") {
              // Records deleted below the position (deleteRecords, retention): as a consumer
              // reading from the beginning, go on from the new start.
              const current = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
              const start = BigInt(current.find((o) => o.partition === partition)?.low ?? "0");
              if (start <= offset) throw err;
              offset = start;
              movedAt = Date.now();
              continue;
            }
            if (!isTransient(err)) throw err;
            // A stall is a position that answered fetches do not move; a broker that does
            // not answer (a leader election) is waited for up to the timeout instead.
            movedAt = Date.now();
            await fetcher.refresh().catch(() => undefined);
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          const { records, next } = committedRecords(fetched, offset);
          // Records past the end the read aims at are left for later readers.
          const within = next <= high;
          for (const record of records) {
            if (within || BigInt(record.offset) < high) onMessage(partition, record);
          }
          if (next > offset) {
            offset = next;
            movedAt = Date.now();
          }
        }
      }),
    );
  } finally {
    await fetcher.disconnect();
  }
}
