/**
 * The transport port, in two layers. Below, the part of the kafkajs client API that Weft uses,
 * and nothing more: kafkajs's `Kafka` satisfies it as it is (checked below at compile time);
 * the embedded log (adapters/embedded) implements it without a broker; shapes follow kafkajs
 * 2.2.4. Above it, what roles need in Weft's own terms, which the backends build over it:
 * `PortPartitionOwnership` (a member's share of a topic's partitions), `PortDecisionLog` (a
 * partition's ownership, its atomic commit, its restore read) and `PortTopicReader` (reading a
 * topic without owning it). Deciders and Kafka triggers own their partitions through the
 * decision log, workers and projectors through `transport/group-ownership.ts`; restores,
 * clients following history, replays and tools read through `transport/topic-reader.ts`.
 *
 * Only types live here: importing this module loads nothing.
 */
import type { Kafka, PartitionAssigner } from "kafkajs";
import type { Logger } from "../core/logger";
import type { Readiness } from "../core/readiness";

export interface PortHeaders {
  [key: string]: Buffer | string | (Buffer | string)[] | undefined;
}

/** A record to produce. Without `partition`, the key picks one (murmur2, as Kafka does). */
export interface PortMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: PortHeaders;
  timestamp?: string;
}

/** A record as a consumer receives it. */
export interface PortConsumedMessage {
  key: Buffer | null;
  value: Buffer | null;
  /** Milliseconds since the epoch, as text. */
  timestamp: string;
  attributes: number;
  offset: string;
  headers?: PortHeaders;
}

export interface PortTopicMessages {
  topic: string;
  messages: PortMessage[];
}

export interface PortProducerRecord {
  topic: string;
  messages: PortMessage[];
  acks?: number;
  timeout?: number;
}

export interface PortProducerBatch {
  topicMessages?: PortTopicMessages[];
  acks?: number;
  timeout?: number;
}

export interface PortRecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  baseOffset?: string;
}

export interface PortRetryOptions {
  initialRetryTime?: number;
  maxRetryTime?: number;
  retries?: number;
}

export interface PortProducerConfig {
  /** Set: the producer is transactional; a new producer with the same ID fences this one. */
  transactionalId?: string;
  idempotent?: boolean;
  maxInFlightRequests?: number;
  transactionTimeout?: number;
  allowAutoTopicCreation?: boolean;
  retry?: PortRetryOptions;
}

export interface PortTopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface PortTransactionOffsets {
  consumerGroupId: string;
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

export interface PortSender {
  send(record: PortProducerRecord): Promise<PortRecordMetadata[]>;
  sendBatch(batch: PortProducerBatch): Promise<PortRecordMetadata[]>;
}

/** Records and consumed offsets sent in a transaction become visible together, or never. */
export interface PortTransaction extends PortSender {
  sendOffsets(offsets: PortTransactionOffsets): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface PortProducer extends PortSender {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Opens a transaction (transactional producers only). The first one fences older owners. */
  transaction(): Promise<PortTransaction>;
}

/**
 * A transaction as a decider uses it: records and the consumed offset, visible together on
 * commit or never. The records may be held until `commit` (the Kafka adapter's pipelined
 * producer sends everything then), so nothing is known of them before it resolves.
 */
export interface PortCommitTransaction {
  sendBatch(batch: PortProducerBatch): Promise<unknown>;
  sendOffsets(offsets: PortTransactionOffsets): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** A decider's producer: `connect` takes the transactional ID and fences older holders. */
export interface PortTransactionalProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  transaction(): Promise<PortCommitTransaction>;
}

/** What one decision writes: records (each with its partition) and the command offset consumed. */
export interface PortDecision {
  readonly records: readonly PortTopicMessages[];
  readonly consumed?: {
    readonly groupId: string;
    readonly topic: string;
    readonly partition: number;
    /** The next offset to consume. */
    readonly offset: bigint;
  };
}

/**
 * A decider's writer for one ownership epoch of a partition. `connect` takes the
 * transactional ID and fences every older holder: once it resolves, their open transaction is
 * aborted and their commits fail. `commit` makes a decision visible whole, or not at all;
 * `beforeCommit` runs once everything is sent, and a throw there aborts instead. After a
 * failed commit the writer may be unusable: its owner replaces it (the partition reopens).
 */
export interface PortDecisionWriter {
  connect(): Promise<void>;
  commit(decision: PortDecision, beforeCommit?: () => Promise<void>): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * Reads the committed records of some partitions of a compacted topic, from their start up to
 * the end they had when the read began. Throws ReadStalledError when answered fetches leave a
 * partition's position where it is for `stallMs`; gives up after `timeoutMs`.
 */
export type ReadCompactedPartitions = (
  topic: string,
  partitions: readonly number[],
  onMessage: (partition: number, message: PortConsumedMessage) => void,
  timeoutMs: number,
  stallMs?: number,
) => Promise<void>;

/** Records fetched from a partition this member owns. */
export interface OwnedBatch {
  readonly partition: number;
  readonly messages: PortConsumedMessage[];
  /** The fetch's whole range: transaction markers and aborted records between included. */
  readonly first: bigint;
  readonly last: bigint;
  /** The partition's end (high watermark) as the fetch saw it: how far behind the owner is. */
  readonly end: bigint;
  /** True once a seek, a new assignment or a stop made these records outdated: drop the rest. */
  isStale(): boolean;
  /** The records up to `offset` are taken: the partition's next fetch starts after it. */
  take(offset: string): void;
  /** Tells the group this member lives, while a batch waits (for a free slot, say). */
  heartbeat(): Promise<void>;
}

/** What an owner of partitions is told. */
export interface OwnershipListener {
  /** The partitions this member owns now; one missing from the set is lost (to another member). */
  assigned(partitions: ReadonlySet<number>): void;
  /**
   * Records of an owned partition. Once this resolves, the partition's next fetch starts after
   * the last record taken (`batch.take`): those not taken come again.
   */
  fetched(batch: OwnedBatch): Promise<void>;
  /** A fetch whose records were all filtered out (markers, an aborted transaction): none lost. */
  skipped(partition: number, first: bigint, last: bigint): void;
  /** Partitions this member asks to keep when the group deals them again (where it can). */
  claimed(): readonly number[];
}

/** An owned partition's read position and the log's view of it, as its owner uses them. */
export interface PartitionCursor {
  /** The group's committed offset of the partition; undefined when it has none. */
  committedOffset(partition: number): Promise<bigint | undefined>;
  /** The next fetch of the partition starts at `offset`. Throws when the member cannot. */
  seek(partition: number, offset: bigint): void;
  pause(partition: number): void;
  resume(partition: number): void;
  /** The partition's end offset: every record acknowledged so far lies below it. */
  endOffset(partition: number): Promise<bigint>;
  /**
   * Whether the group, settled, gives the partition to this member. False while it
   * rebalances or gave the partition to another member this process has not heard of yet.
   */
  holds(partition: number): Promise<boolean>;
}

/**
 * A member's share of a topic's partitions: the group deals them over its live members, each
 * partition to one, and tells each member what it owns. Ownership is advisory until the
 * owner's writer fences the previous one (PortDecisionWriter.connect): that is the token a
 * commit is checked against, so two members that both believe they own a partition never both
 * commit.
 */
export interface PortPartitionOwnership extends PartitionCursor {
  /** Joins the group and starts fetching; resolves once the first assignment is in place. */
  start(listener: OwnershipListener): Promise<void>;
  /** Stops fetching every partition, still owning them (to finish what is in hand). */
  stopFetching(): void;
  /** Leaves the group: its partitions go to the other members. */
  leave(): Promise<void>;
  /**
   * Stores the group's offsets of owned partitions outside any transaction (an owner whose
   * records need no atomic commit: a worker's tasks). Rejects while the group rebalances.
   */
  commit(offsets: readonly { partition: number; offset: string }[]): Promise<void>;
}

export interface OwnershipOptions {
  groupId: string;
  topic: string;
  /** A member silent this long loses its partitions (where members can die apart). */
  sessionTimeoutMs: number;
  /** Where a group with no committed offset starts: a partition's first record (default) or its end. */
  fromBeginning?: boolean;
  /** Partitions whose fetched records are handled at once. */
  concurrency: number;
  /** The most one fetch reads of a partition (default the log's: 1 MiB on Kafka). */
  fetchMaxBytes?: number;
  /** How often the member tells the group it lives; default a sixth of the session. */
  heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to finish the batches in hand. */
  rebalanceTimeoutMs: number;
  logger: Logger;
  /** Where a member waiting for the log shows (a crash until the group is joined again). */
  waiting?: { readiness: Readiness; role: string; what: string };
}

/**
 * What a decider needs of the log beyond the client: its partitions' ownership, their atomic
 * commit and their restore read.
 */
export interface PortDecisionLog {
  ownership(options: OwnershipOptions): PortPartitionOwnership;
  writer(transactionalId: string): PortDecisionWriter;
  readCompacted: ReadCompactedPartitions;
}

/** Records a topic reader fetched from one partition. */
export interface ReadBatch {
  readonly partition: number;
  /**
   * Committed records, in order, none read before by this reader (empty where the fetch held
   * only transaction markers or aborted records).
   */
  readonly messages: readonly PortConsumedMessage[];
  /** Where the partition's read goes on from: every offset below it was passed. */
  readonly next: bigint;
}

export interface TopicReadOptions {
  topic: string;
  /** The partitions read; default every partition of the topic. */
  partitions?: readonly number[];
  /**
   * Where each partition's read begins: its first record, its end as the read begins, or the
   * offsets given (a partition without one from its first record).
   */
  from: "beginning" | "end" | ReadonlyMap<number, bigint>;
  /** Each partition's batches come in order, the next once this one resolved. */
  onBatch: (batch: ReadBatch) => void | Promise<void>;
}

/** A read in progress: it follows its partitions as records are committed, until closed. */
export interface TopicRead {
  close(): Promise<void>;
}

/**
 * Reads a topic's committed records outside any group of Weft's: it owns nothing and takes
 * no partition from an owner (a restore, a client following history, a replay, a tool).
 */
export interface PortTopicReader {
  /** Starts reading; resolves once every partition read is positioned. */
  follow(options: TopicReadOptions): Promise<TopicRead>;
}

export interface PortConsumerConfig {
  groupId: string;
  /** Weft always reads committed records only. */
  readUncommitted?: boolean;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxWaitTimeInMs?: number;
  maxBytesPerPartition?: number;
  allowAutoTopicCreation?: boolean;
  /** How a broker's group deals partitions (kafkajs); the embedded log has its own. */
  partitionAssigners?: PartitionAssigner[];
  /**
   * Asked after a crash kafkajs restarts from by itself: false once the consumer's owner is
   * stopping. kafkajs schedules that restart after its own disconnect, so a stop that came
   * during the crash was undone by it, and the consumer went on restarting against brokers
   * that were gone, in a process that had stopped the role. The embedded log never crashes.
   */
  retry?: { restartOnFailure?: (error: Error) => Promise<boolean> };
}

export interface PortBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: PortConsumedMessage[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
}

export interface PortEachBatchPayload {
  batch: PortBatch;
  /** Marks everything up to `offset` as processed: the next fetch starts after it. */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** Pauses this batch's partition; returns a function that resumes it. */
  pause(): () => void;
  isRunning(): boolean;
  /** True when a seek (or a rebalance) made this batch's records outdated. */
  isStale(): boolean;
}

export interface PortConsumerRunConfig {
  autoCommit?: boolean;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
  eachBatch?: (payload: PortEachBatchPayload) => Promise<void>;
}

export interface PortTopicPartitions {
  topic: string;
  partitions?: number[];
}

export interface PortEvent<T> {
  id: string;
  type: string;
  timestamp: number;
  payload: T;
}

export type PortGroupJoinEvent = PortEvent<{
  duration: number;
  groupId: string;
  isLeader: boolean;
  leaderId: string;
  groupProtocol: string;
  memberId: string;
  /** Topic → the partitions this member owns in the new generation. */
  memberAssignment: { [topic: string]: number[] };
}>;

export type PortCrashEvent = PortEvent<{ error: Error; groupId: string; restart: boolean }>;

export type PortEndBatchProcessEvent = PortEvent<{
  topic: string;
  partition: number;
  highWatermark: string;
  offsetLag: string;
  offsetLagLow: string;
  batchSize: number;
  firstOffset: string;
  lastOffset: string;
  duration: number;
}>;

export interface PortConsumerEvents {
  GROUP_JOIN: "consumer.group_join";
  CRASH: "consumer.crash";
  END_BATCH_PROCESS: "consumer.end_batch_process";
}

export interface PortConsumer {
  readonly events: PortConsumerEvents;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(
    subscription:
      { topic: string; fromBeginning?: boolean } | { topics: string[]; fromBeginning?: boolean },
  ): Promise<void>;
  /** Joins the group and starts fetching; resolves once the first assignment is in place. */
  run(config?: PortConsumerRunConfig): Promise<void>;
  stop(): Promise<void>;
  commitOffsets(offsets: PortTopicPartitionOffset[]): Promise<void>;
  /** The next fetch of the partition starts at `offset`; batches fetched before are stale. */
  seek(target: PortTopicPartitionOffset): void;
  pause(topics: PortTopicPartitions[]): void;
  resume(topics: PortTopicPartitions[]): void;
  on(
    eventName: PortConsumerEvents["GROUP_JOIN"],
    listener: (event: PortGroupJoinEvent) => void,
  ): () => void;
  on(eventName: PortConsumerEvents["CRASH"], listener: (event: PortCrashEvent) => void): () => void;
  on(
    eventName: PortConsumerEvents["END_BATCH_PROCESS"],
    listener: (event: PortEndBatchProcessEvent) => void,
  ): () => void;
}

export interface PortTopicConfig {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  configEntries?: { name: string; value: string }[];
}

export interface PortPartitionMetadata {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface PortTopicOffsets {
  partition: number;
  offset: string;
  high: string;
  low: string;
}

export interface PortGroupOffsets {
  topic: string;
  partitions: { partition: number; offset: string; metadata: string | null }[];
}

export interface PortAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Resolves true when it created a topic, false when all existed already. */
  createTopics(options: { topics: PortTopicConfig[]; waitForLeaders?: boolean }): Promise<boolean>;
  listTopics(): Promise<string[]>;
  fetchTopicMetadata(options?: {
    topics: string[];
  }): Promise<{ topics: { name: string; partitions: PortPartitionMetadata[] }[] }>;
  fetchTopicOffsets(topic: string): Promise<PortTopicOffsets[]>;
  /** A partition without a committed offset reports offset "-1". */
  fetchOffsets(options: { groupId: string; topics?: string[] }): Promise<PortGroupOffsets[]>;
  deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode?: number }[]>;
  /** The cluster's brokers (absent where there is one log, as in embedded mode). */
  describeCluster?(): Promise<{ brokers: { nodeId: number }[] }>;
  /**
   * Consumer groups as their coordinator sees them: state and each member's assignment
   * (absent where one process holds the log, as in embedded mode).
   */
  describeGroups?(groupIds: string[]): Promise<{ groups: PortGroupDescription[] }>;
}

export interface PortGroupDescription {
  groupId: string;
  /** "Stable" once every member has its assignment of the current generation. */
  state: string;
  /** Each member's assignment, encoded as the consumer protocol's MemberAssignment. */
  members: { memberId: string; memberAssignment: Buffer }[];
}

export interface KafkaPort {
  producer(config?: PortProducerConfig): PortProducer;
  consumer(config: PortConsumerConfig): PortConsumer;
  admin(): PortAdmin;
  /**
   * A reader of the log's own, where it has one (the embedded log reads a partition directly);
   * without it, `transport/topic-reader.ts` reads through a throw-away consumer group.
   */
  topicReader?(): PortTopicReader;
  /**
   * Partition ownership of the log's own, where it has one (the embedded log's groups live in
   * its process); without it, `transport/group-ownership.ts` builds one on a consumer group.
   */
  ownership?(options: OwnershipOptions): PortPartitionOwnership;
}

/** Compile-time proof that the kafkajs client implements the port. */
type Implements<T extends KafkaPort> = T;
export type KafkaImplementsPort = Implements<Kafka>;
