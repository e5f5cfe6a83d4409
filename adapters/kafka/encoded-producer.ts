/**
 * Weft's idempotent producer on Kafka, for records whose partition the caller chose (every
 * command and step report: see producers/command-producer.ts). It encodes each partition's
 * records in one buffer (`encodeRecordBatch`, record-batches.ts), as the deciders' pipelined
 * producer does, and sends Produce v7 over kafkajs's connections. kafkajs's producer encodes
 * a record and each of its headers with an encoder of their own, each on a zero-filled buffer:
 * with a burst's step reports going through Kafka, that was 13 % of a decider and worker
 * process's time.
 *
 * Idempotent as kafkajs's is: a producer ID, and a sequence number per partition. A request
 * that fails on a retriable error goes again with the same sequence numbers to the
 * partition's current leader, and the broker keeps a batch it already wrote once. A
 * partition's requests go one at a time, in the order they were sent. A batch the broker
 * refuses for the producer's state (UNKNOWN_PRODUCER_ID once the producer was idle past the
 * broker's `producer.id.expiration.ms`, OUT_OF_ORDER_SEQUENCE_NUMBER after a request that
 * failed for good) was not written: the producer takes a new producer ID, whose sequences
 * start from zero, and sends it again once.
 *
 * Records without a partition (left to kafkajs's partitioner) go through kafkajs's producer.
 */
import { sleep } from "../../core/backoff";
import { groupBy } from "../../core/group-by";
import type {
  PortMessage,
  PortProducer,
  PortProducerBatch,
  PortProducerRecord,
  PortRecordMetadata,
} from "../../transport/port";
import {
  clusterFactory,
  sendRequest,
  type KafkajsBroker,
  type KafkajsCluster,
} from "./kafkajs-cluster";
import { backoff, retriable } from "./pipelined-transactions";
import { PRODUCE_API_KEY, produceRequest } from "./produce-request";
import { encodeRecordBatch, type BatchIdentity } from "./record-batches";

/**
 * Tries of one request: with the backoff below, about 28 s, so a leader election after a
 * broker's loss (several seconds) delays a send rather than failing it, as the retries kafkajs's
 * producer was given for commands did.
 */
const TRIES = 60;
const PRODUCE_TIMEOUT_MS = 30_000;
/** The broker refused the batch for the producer's state: nothing of it was written. */
const PRODUCER_STATE_ERRORS = new Set([
  "UNKNOWN_PRODUCER_ID",
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "INVALID_PRODUCER_EPOCH",
]);

interface IdempotentCluster extends KafkajsCluster {
  findControllerBroker(): Promise<
    KafkajsBroker & {
      initProducerId(args: {
        transactionalId?: string;
        transactionTimeout: number;
      }): Promise<{ producerId: string; producerEpoch: number }>;
    }
  >;
}

interface ProduceResponse {
  topics: {
    topicName: string;
    partitions: { partition: number; errorCode: number; baseOffset: string }[];
  }[];
}

/** A producer ID with the sequence numbers sent under it. */
interface Identity extends BatchIdentity {
  readonly sequences: Map<string, number>;
}

/**
 * An idempotent producer encoding its own batches, or undefined for a client without kafkajs's
 * cluster (the embedded log). `fallback` (kafkajs's producer, same options) takes the records
 * without a partition; it is connected on first use.
 */
export function encodedProducer(
  kafka: Parameters<typeof clusterFactory>[0],
  fallback: PortProducer,
): PortProducer | undefined {
  const create = clusterFactory(kafka);
  if (!create) return undefined;
  return new EncodedProducer(
    create({ allowAutoTopicCreation: false }) as IdempotentCluster,
    fallback,
  );
}

class EncodedProducer implements PortProducer {
  private identity: Promise<Identity> | undefined;
  /** The last request of each partition: the next one goes after it. */
  private readonly lanes = new Map<string, Promise<unknown>>();
  private readonly knownTopics = new Set<string>();
  private fallbackConnected: Promise<void> | undefined;
  /** False when the brokers do not speak Produce v7 (before Kafka 2.1): kafkajs's does it all. */
  private encoded = true;
  /** Set by `disconnect`: a request failing after it is not tried again (it would reconnect). */
  private closed = false;

  constructor(
    private readonly cluster: IdempotentCluster,
    private readonly fallback: PortProducer,
  ) {}

  async connect(): Promise<void> {
    this.closed = false;
    await this.cluster.connect();
    await this.cluster.refreshMetadata();
    const controller = await this.cluster.findControllerBroker();
    this.encoded = (controller.versions?.[PRODUCE_API_KEY]?.maxVersion ?? 0) >= 7;
    if (!this.encoded) {
      await this.viaFallback();
      return;
    }
    // The producer ID is taken here, as kafkajs's producer takes its own: a process answers
    // ready only once it can write. Taken at the first send, an API would answer ready and
    // then hold its first starts for as long as the brokers take to give one.
    await (this.identity = this.newIdentity());
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    const fallback = this.fallbackConnected;
    this.fallbackConnected = undefined;
    if (fallback) await fallback.then(() => this.fallback.disconnect()).catch(() => undefined);
    await this.cluster.disconnect();
  }

  transaction(): never {
    throw new Error("an idempotent producer has no transactions");
  }

  send(record: PortProducerRecord): Promise<PortRecordMetadata[]> {
    return this.sendBatch({
      topicMessages: [{ topic: record.topic, messages: record.messages }],
      acks: record.acks,
    });
  }

  async sendBatch(batch: PortProducerBatch): Promise<PortRecordMetadata[]> {
    const topics = batch.topicMessages ?? [];
    const partitioned = topics.every((t) => t.messages.every((m) => m.partition !== undefined));
    if (!this.encoded || !partitioned || (batch.acks !== undefined && batch.acks !== -1)) {
      await this.viaFallback();
      return this.fallback.sendBatch(batch);
    }
    const sends: Promise<PortRecordMetadata>[] = [];
    for (const { topic, messages } of topics) {
      for (const [partition, records] of groupBy(messages, (m) => m.partition!)) {
        const key = `${topic}\0${partition}`;
        const previous = this.lanes.get(key) ?? Promise.resolve();
        const send = previous
          .catch(() => undefined)
          .then(() => this.sendPartition(topic, partition, records, key));
        this.lanes.set(key, send);
        // Both ways: `finally` would make a second promise, rejected with the send, that
        // nobody awaits, and an unhandled rejection ends the process.
        const forget = () => {
          if (this.lanes.get(key) === send) this.lanes.delete(key);
        };
        send.then(forget, forget);
        sends.push(send);
      }
    }
    return Promise.all(sends);
  }

  private viaFallback(): Promise<void> {
    return (this.fallbackConnected ??= this.fallback.connect());
  }

  private async sendPartition(
    topic: string,
    partition: number,
    messages: PortMessage[],
    key: string,
  ): Promise<PortRecordMetadata> {
    if (!this.knownTopics.has(topic)) {
      await this.cluster.addTargetTopic(topic);
      this.knownTopics.add(topic);
    }
    let stale: Identity | undefined;
    for (;;) {
      const identity = await this.identityFor(stale);
      const first = identity.sequences.get(key) ?? 0;
      const batch = encodeRecordBatch(identity, first, messages);
      // Sequence numbers wrap at 2^31, as the Java producer's do.
      identity.sequences.set(key, (first + messages.length) % 2 ** 31);
      try {
        return await this.produce(topic, partition, batch);
      } catch (err) {
        if (stale || !PRODUCER_STATE_ERRORS.has((err as { type?: string }).type ?? "")) throw err;
        stale = identity;
      }
    }
  }

  /**
   * The producer ID to send under: taken at `connect`, taken again by a send after taking it
   * failed, and renewed in place of `stale` unless another send already did.
   */
  private identityFor(stale?: Identity): Promise<Identity> {
    const current = this.identity;
    this.identity = current
      ? current.then(
          (identity) => (identity === stale ? this.newIdentity() : identity),
          () => this.newIdentity(),
        )
      : this.newIdentity();
    return this.identity;
  }

  private async newIdentity(): Promise<Identity> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1) await this.cluster.refreshMetadata();
        const controller = await this.cluster.findControllerBroker();
        const { producerId, producerEpoch } = await controller.initProducerId({
          transactionTimeout: PRODUCE_TIMEOUT_MS,
        });
        return { producerId, producerEpoch, transactional: false, sequences: new Map() };
      } catch (err) {
        if (this.closed || !retriable(err) || attempt >= TRIES) throw err;
        await sleep(backoff(err, attempt));
      }
    }
  }

  /** One Produce request of one partition's batch, to its leader, tried again as it moves. */
  private async produce(
    topic: string,
    partition: number,
    batch: Buffer,
  ): Promise<PortRecordMetadata> {
    for (let attempt = 1; ; attempt++) {
      try {
        const nodeId = Object.keys(this.cluster.findLeaderForPartitions(topic, [partition]))[0];
        if (nodeId === undefined)
          throw Object.assign(new Error(`no leader known for ${topic} partition ${partition}`), {
            retriable: true,
          });
        const broker = await this.cluster.findBroker({ nodeId });
        const response = (await sendRequest(
          broker,
          produceRequest({
            transactionalId: null,
            acks: -1,
            timeout: PRODUCE_TIMEOUT_MS,
            topicData: [{ topic, partitions: [{ partition, batch }] }],
          }),
        )) as ProduceResponse;
        const answered = response.topics[0]?.partitions[0];
        return {
          topicName: topic,
          partition,
          errorCode: answered?.errorCode ?? 0,
          baseOffset: answered?.baseOffset,
        };
      } catch (err) {
        if (this.closed || !retriable(err) || attempt >= TRIES) throw err;
        await sleep(backoff(err, attempt));
        await this.cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }
}
