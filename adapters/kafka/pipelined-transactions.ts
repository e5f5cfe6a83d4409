/**
 * The decider's transactional producer on Kafka. A decision writes records to a few partitions
 * (history, changelog, a task topic) and commits its consumed offset. This producer sends all
 * of it in three steps, each step's requests side by side:
 *
 *   1. AddPartitionsToTxn (every partition at once) and AddOffsetsToTxn, to the coordinator;
 *   2. Produce (one request per leader, all the partitions it leads) and TxnOffsetCommit;
 *   3. EndTxn.
 *
 * On a cluster that speaks Kafka's second transaction protocol (KIP-890, Kafka 4.0 and later,
 * `transaction.version` 2; see transaction-v2-requests.ts) the first step goes: the produce and
 * the offset commit add their partitions themselves, and a commit takes two round trips. Each
 * commit then bumps the producer's epoch, so its sequence numbers start again from zero.
 *
 * kafkajs's transactional producer takes seven to nine round trips in a row for the same
 * decision. It looks the coordinator up before each call, adds partitions and produces
 * separately for each sendBatch, and Weft must give it one partition per sendBatch: its
 * retries of a multi-partition request drop or duplicate records when a leader moves
 * (kafkajs #1303). Here a request that fails on a retriable error is sent again whole, with
 * the same sequence numbers, to the partitions' current leaders; the broker's idempotence
 * keeps a batch it already wrote once.
 *
 * Records are held until `commit`: `sendBatch` sends nothing. A commit that fails leaves the
 * producer unusable, since its sequence numbers may be ahead of the broker's. The decider
 * discards it and opens the partition again, as it does after any failed commit.
 *
 * Built on kafkajs's own cluster and broker requests (see kafkajs-cluster.ts), so it uses the
 * client's brokers, TLS and SASL.
 */
import { groupBy } from "../../core/group-by";
import {
  clusterFactory,
  sendRequest,
  type KafkajsBroker,
  type KafkajsCluster,
} from "./kafkajs-cluster";
import { PRODUCE_API_KEY, produceRequest, type ProduceTopicData } from "./produce-request";
import { encodeRecordBatch } from "./record-batches";
import {
  endTxnV5,
  produceV12,
  speaksTransactionV2,
  txnOffsetCommitV5,
  type ProducerIdentity as Identity,
} from "./transaction-v2-requests";
import type {
  KafkaPort,
  PortCommitTransaction,
  PortMessage,
  PortProducerBatch,
  PortTransactionOffsets,
  PortTransactionalProducer,
} from "../../transport/port";

/** The coordinator types of FindCoordinator. */
const GROUP_COORDINATOR = 0;
const TRANSACTION_COORDINATOR = 1;

/**
 * Tries of one request before the commit fails. The backoff below makes it about 25 s, so a
 * leader election after a broker's loss delays a commit rather than failing it (a failed
 * commit costs a reopen and a restore of the partition).
 */
const TRIES = 60;

interface TransactionBroker extends KafkajsBroker {
  initProducerId(args: {
    transactionalId: string;
    transactionTimeout: number;
  }): Promise<{ producerId: string; producerEpoch: number }>;
  addPartitionsToTxn(
    args: Identity & { topics: { topic: string; partitions: number[] }[] },
  ): Promise<unknown>;
  addOffsetsToTxn(args: Identity & { groupId: string }): Promise<unknown>;
  txnOffsetCommit(
    args: Identity & { groupId: string; topics: PortTransactionOffsets["topics"] },
  ): Promise<unknown>;
  endTxn(args: Identity & { transactionResult: boolean }): Promise<unknown>;
  produce(
    args: Identity & {
      acks: number;
      timeout: number;
      topicData: {
        topic: string;
        partitions: { partition: number; firstSequence: number; messages: PortMessage[] }[];
      }[];
    },
  ): Promise<unknown>;
}

interface TransactionCluster extends KafkajsCluster {
  findGroupCoordinator(args: { groupId: string; coordinatorType: number }): Promise<KafkajsBroker>;
}

/** One partition's records in one produce request, with the sequence number of the first. */
interface PartitionBatch {
  topic: string;
  partition: number;
  firstSequence: number;
  messages: PortMessage[];
}

export interface PipelinedProducerOptions {
  transactionalId: string;
  transactionTimeout: number;
  /**
   * Kafka's transaction protocol: 2 (KIP-890) where the coordinator speaks it, else 1; a
   * number asks for that one (a coordinator that cannot speak 2 fails the connect).
   */
  transactionVersion?: TransactionVersion | "auto";
}

export type TransactionVersion = 1 | 2;

/**
 * The pipelined producer for a kafkajs client; undefined for a client without kafkajs's
 * cluster (the embedded log, whose own transactions cost no round trip).
 */
export function pipelinedProducer(
  kafka: KafkaPort,
  options: PipelinedProducerOptions,
): PortTransactionalProducer | undefined {
  const create = clusterFactory(kafka);
  if (!create) return undefined;
  return new PipelinedProducer(
    create({ allowAutoTopicCreation: false }) as TransactionCluster,
    options,
  );
}

/** Thrown by `transaction()` once a commit failed: the producer must be replaced. */
export class ProducerUnusableError extends Error {
  constructor(cause: unknown) {
    super(`a commit of this producer failed; it cannot be used again (${String(cause)})`, {
      cause,
    });
    this.name = "ProducerUnusableError";
  }
}

class PipelinedProducer implements PortTransactionalProducer {
  private identity: Identity | undefined;
  private coordinator: TransactionBroker | undefined;
  private readonly groupCoordinators = new Map<string, TransactionBroker>();
  private readonly sequences = new Map<string, number>();
  private readonly knownTopics = new Set<string>();
  private open: PipelinedTransaction | undefined;
  private failure: unknown;
  /**
   * When the current commit (or connect) stops retrying: past the transaction timeout the
   * coordinator aborts the transaction anyway. Each request may wait for its own timeout, so
   * tries alone could hold a commit for many minutes against a broker that does not answer.
   */
  private deadline = Number.POSITIVE_INFINITY;
  private connected = false;
  /** The transaction protocol, known once connected. */
  private version: TransactionVersion = 1;

  constructor(
    private readonly cluster: TransactionCluster,
    private readonly options: PipelinedProducerOptions,
  ) {}

  /** Connects and takes the transactional ID: an older producer with it is fenced. */
  async connect(): Promise<void> {
    await this.cluster.connect();
    this.connected = true;
    const { transactionalId, transactionTimeout } = this.options;
    this.deadline = Date.now() + transactionTimeout;
    // The coordinator answers CONCURRENT_TRANSACTIONS while it aborts the previous owner's
    // open transaction: retried like any other.
    const { producerId, producerEpoch } = await this.atCoordinator((broker) =>
      broker.initProducerId({ transactionalId, transactionTimeout }),
    );
    this.version = this.chooseVersion();
    this.identity = { transactionalId, producerId, producerEpoch };
  }

  /** The protocol version in use, once connected. */
  get transactionVersion(): TransactionVersion {
    return this.version;
  }

  private chooseVersion(): TransactionVersion {
    const wanted = this.options.transactionVersion ?? "auto";
    const speaks = speaksTransactionV2(this.coordinator?.versions);
    if (wanted === 2 && !speaks)
      throw new Error(
        "the transaction coordinator does not speak Kafka's transaction protocol 2 (Kafka 4.0 or later with transaction.version 2)",
      );
    return wanted === 1 || !speaks ? 1 : 2;
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.cluster.disconnect();
  }

  transaction(): Promise<PortCommitTransaction> {
    if (this.failure !== undefined) return Promise.reject(new ProducerUnusableError(this.failure));
    if (!this.identity) return Promise.reject(new Error("the producer is not connected"));
    if (this.open)
      return Promise.reject(new Error("there is an ongoing transaction on this producer"));
    this.open = new PipelinedTransaction(this);
    return Promise.resolve(this.open);
  }

  /** Sends a transaction's records and offsets and commits it. */
  async commit(
    tx: PipelinedTransaction,
    chunks: ReadonlyMap<string, { topic: string; partition: number; chunks: PortMessage[][] }>,
    offsets: PortTransactionOffsets | undefined,
  ): Promise<void> {
    this.close(tx);
    const identity = this.identity!;
    if (chunks.size === 0 && !offsets) return;
    this.deadline = Date.now() + this.options.transactionTimeout;
    try {
      const added = groupBy(chunks.values(), (held) => held.topic);
      for (const topic of added.keys()) await this.learnTopic(topic);
      await Promise.all([
        added.size === 0 || this.version === 2
          ? undefined
          : this.atCoordinator((broker) =>
              broker.addPartitionsToTxn({
                ...identity,
                topics: [...added].map(([topic, held]) => ({
                  topic,
                  partitions: held.map((h) => h.partition),
                })),
              }),
            ),
        offsets === undefined || this.version === 2
          ? undefined
          : this.atCoordinator((broker) =>
              broker.addOffsetsToTxn({ ...identity, groupId: offsets.consumerGroupId }),
            ),
      ]);
      // A partition's chunks go in order, one produce request each (a request holds one
      // batch a partition); the n-th chunks of all partitions go together.
      const rounds: PartitionBatch[][] = [];
      for (const { topic, partition, chunks: list } of chunks.values()) {
        list.forEach((messages, i) => {
          (rounds[i] ??= []).push({
            topic,
            partition,
            firstSequence: this.nextSequence(topic, partition, messages.length),
            messages,
          });
        });
      }
      await settleAll([
        (async () => {
          for (const round of rounds) await this.produce(round, 1);
        })(),
        offsets === undefined
          ? undefined
          : this.atGroupCoordinator(offsets.consumerGroupId, (broker) =>
              this.version === 2
                ? sendRequest(
                    broker,
                    txnOffsetCommitV5({
                      ...identity,
                      groupId: offsets.consumerGroupId,
                      topics: offsets.topics,
                    }),
                  )
                : broker.txnOffsetCommit({
                    ...identity,
                    groupId: offsets.consumerGroupId,
                    topics: offsets.topics,
                  }),
            ),
      ]);
      await this.endTransaction(identity);
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  /**
   * Commits at the coordinator. In the second protocol the answer carries the epoch (and, once
   * an epoch is spent, the producer ID) of the next transaction, whose sequences start at zero.
   */
  private async endTransaction(identity: Identity): Promise<void> {
    if (this.version === 1) {
      await this.atCoordinator((broker) => broker.endTxn({ ...identity, transactionResult: true }));
      return;
    }
    const next = (await this.atCoordinator((broker) =>
      sendRequest(broker, endTxnV5({ ...identity, committed: true })),
    )) as { producerId: string; producerEpoch: number };
    if (next.producerId !== identity.producerId || next.producerEpoch !== identity.producerEpoch) {
      this.identity = {
        ...identity,
        producerId: next.producerId,
        producerEpoch: next.producerEpoch,
      };
      this.sequences.clear();
    }
  }

  /** Ends an open transaction without committing it. */
  abort(tx: PipelinedTransaction): void {
    this.close(tx);
    // Nothing reached the broker unless a commit was tried, and a failed commit leaves the
    // producer unusable: the next owner's fencing aborts what the broker holds of it.
  }

  private close(tx: PipelinedTransaction): void {
    if (this.open === tx) this.open = undefined;
  }

  private nextSequence(topic: string, partition: number, records: number): number {
    const key = `${topic}\0${partition}`;
    const first = this.sequences.get(key) ?? 0;
    // Sequence numbers wrap at 2^31, as the Java producer's do.
    this.sequences.set(key, (first + records) % 2 ** 31);
    return first;
  }

  private async learnTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    await this.cluster.addTargetTopic(topic);
    this.knownTopics.add(topic);
  }

  /** Produces `batches`, one request per leader; a leader that failed gets its part again. */
  private async produce(batches: PartitionBatch[], attempt: number): Promise<void> {
    const byLeader = groupBy(batches, (batch) => {
      const leaders = this.cluster.findLeaderForPartitions(batch.topic, [batch.partition]);
      const nodeId = Object.keys(leaders)[0];
      if (nodeId === undefined)
        throw new Error(`no leader known for ${batch.topic} partition ${batch.partition}`);
      return nodeId;
    });
    await settleAll(
      [...byLeader].map(async ([nodeId, group]) => {
        try {
          const broker = (await this.cluster.findBroker({ nodeId })) as TransactionBroker;
          await this.sendProduce(broker, group);
        } catch (err) {
          if (this.giveUp(err, attempt)) throw err;
          await delay(backoff(err, attempt));
          await this.cluster.refreshMetadata().catch(() => undefined);
          await this.produce(group, attempt + 1);
        }
      }),
    );
  }

  /**
   * One Produce request of these batches: encoded here (see produce-request.ts) when the
   * broker speaks Produce v7 or later, else through kafkajs's encoders.
   */
  private async sendProduce(broker: TransactionBroker, group: PartitionBatch[]): Promise<void> {
    const identity = this.identity!;
    if (this.version === 1 && (broker.versions?.[PRODUCE_API_KEY]?.maxVersion ?? 0) < 7) {
      await broker.produce({ ...identity, acks: -1, timeout: 30_000, topicData: topicData(group) });
      return;
    }
    const batchIdentity = { ...identity, transactional: true };
    const now = Date.now();
    const batches: ProduceTopicData[] = [...groupBy(group, (batch) => batch.topic)].map(
      ([topic, list]) => ({
        topic,
        partitions: list.map(({ partition, firstSequence, messages }) => ({
          partition,
          batch: encodeRecordBatch(batchIdentity, firstSequence, messages, now),
        })),
      }),
    );
    const produce = {
      transactionalId: identity.transactionalId,
      acks: -1,
      timeout: 30_000,
      topicData: batches,
    };
    await sendRequest(broker, this.version === 2 ? produceV12(produce) : produceRequest(produce));
  }

  private async atCoordinator<T>(request: (broker: TransactionBroker) => Promise<T>): Promise<T> {
    return this.retrying(async (fresh) => {
      if (fresh || !this.coordinator)
        this.coordinator = (await this.cluster.findGroupCoordinator({
          groupId: this.options.transactionalId,
          coordinatorType: TRANSACTION_COORDINATOR,
        })) as TransactionBroker;
      return request(this.coordinator);
    });
  }

  private async atGroupCoordinator<T>(
    groupId: string,
    request: (broker: TransactionBroker) => Promise<T>,
  ): Promise<T> {
    return this.retrying(async (fresh) => {
      let broker = this.groupCoordinators.get(groupId);
      if (fresh || !broker) {
        broker = (await this.cluster.findGroupCoordinator({
          groupId,
          coordinatorType: GROUP_COORDINATOR,
        })) as TransactionBroker;
        this.groupCoordinators.set(groupId, broker);
      }
      return request(broker);
    });
  }

  private giveUp(err: unknown, attempt: number): boolean {
    return !retriable(err) || attempt >= TRIES || Date.now() >= this.deadline;
  }

  /** Runs `request` until it succeeds or fails on an error that is not retriable. */
  private async retrying<T>(request: (fresh: boolean) => Promise<T>): Promise<T> {
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(fresh);
      } catch (err) {
        if (this.giveUp(err, attempt)) throw err;
        // After a failure other than CONCURRENT_TRANSACTIONS, the coordinator may have moved.
        fresh = !concurrentTransactions(err);
        await delay(backoff(err, attempt));
      }
    }
  }
}

class PipelinedTransaction implements PortCommitTransaction {
  private readonly chunks = new Map<
    string,
    { topic: string; partition: number; chunks: PortMessage[][] }
  >();
  private offsets: PortTransactionOffsets | undefined;
  private done = false;

  constructor(private readonly producer: PipelinedProducer) {}

  /** Holds the records for the commit. Each call's records to a partition form one batch. */
  sendBatch(batch: PortProducerBatch): Promise<void> {
    this.assertOpen();
    for (const { topic, messages } of batch.topicMessages ?? []) {
      const byPartition = groupBy(messages, (message) => {
        if (message.partition === undefined)
          throw new Error(`a transactional record to ${topic} must name its partition`);
        return message.partition;
      });
      for (const [partition, list] of byPartition) {
        const key = `${topic}\0${partition}`;
        const held = this.chunks.get(key) ?? { topic, partition, chunks: [] };
        held.chunks.push(list);
        this.chunks.set(key, held);
      }
    }
    return Promise.resolve();
  }

  sendOffsets(offsets: PortTransactionOffsets): Promise<void> {
    this.assertOpen();
    if (this.offsets && this.offsets.consumerGroupId !== offsets.consumerGroupId)
      throw new Error("a transaction commits the offsets of one consumer group");
    this.offsets = this.offsets
      ? { ...offsets, topics: [...this.offsets.topics, ...offsets.topics] }
      : offsets;
    return Promise.resolve();
  }

  async commit(): Promise<void> {
    this.assertOpen();
    this.done = true;
    await this.producer.commit(this, this.chunks, this.offsets);
  }

  abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      this.producer.abort(this);
    }
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.done) throw new Error("the transaction has ended");
  }
}

function topicData(batches: PartitionBatch[]) {
  return [...groupBy(batches, (batch) => batch.topic)].map(([topic, list]) => ({
    topic,
    partitions: list.map(({ partition, firstSequence, messages }) => ({
      partition,
      firstSequence,
      messages,
    })),
  }));
}

/** Errors worth the same request again: a leader or coordinator moving, a lost connection. */
const RETRIED_ERRORS = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
]);

function concurrentTransactions(err: unknown): boolean {
  return (err as { type?: string } | undefined)?.type === "CONCURRENT_TRANSACTIONS";
}

export function retriable(err: unknown): boolean {
  const e = err as { retriable?: boolean; name?: string } | undefined;
  if (concurrentTransactions(err)) return true;
  return e?.retriable === true || RETRIED_ERRORS.has(e?.name ?? "");
}

/**
 * CONCURRENT_TRANSACTIONS means the coordinator still writes the previous commit's markers,
 * a millisecond or two: retried soon. Anything else (an election) backs off to 500 ms.
 */
export function backoff(err: unknown, attempt: number): number {
  if (concurrentTransactions(err)) return Math.min(2 * attempt, 20);
  return Math.min(5 * 2 ** attempt, 500);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for every promise, then throws the first failure: nothing is left in flight. */
async function settleAll(work: (Promise<unknown> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(
    work.filter((p): p is Promise<unknown> => p !== undefined),
  );
  for (const result of results) if (result.status === "rejected") throw result.reason;
}
