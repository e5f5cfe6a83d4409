import type {
  KafkaPort,
  PortAdmin,
  PortConsumer,
  PortConsumerConfig,
  PortProducer,
  PortProducerConfig,
  PortTopicReader,
  OwnershipOptions,
  PortPartitionOwnership,
} from "../../transport/port";
import { EmbeddedAdmin } from "./admin";
import { EmbeddedConsumer } from "./consumer";
import { MAX_FETCH_BYTES } from "./fetch";
import { EmbeddedGroupMember, GroupCoordinator } from "./group-member";
import { EmbeddedLog, type SyncMode } from "./log";
import { embeddedTopicReader } from "./topic-reader";
import { defaultPartitioner, EmbeddedProducer, type Partitioner } from "./producer";

/** How long a member's caught-up partition waits before it looks again (a record wakes it). */
const MEMBER_MAX_WAIT_MS = 100;

export interface EmbeddedKafkaOptions {
  /** Where the log lives (created when missing), e.g. `.weft/`. One process owns it. */
  directory: string;
  /** When to fdatasync (see SyncMode); default "interval". */
  sync?: SyncMode;
  /** With sync "interval": the most a machine crash can lose. Default 100 ms. */
  syncIntervalMs?: number;
  /** Past this size the log's active segment is sealed and a new one begun (default 16 MiB). */
  segmentBytes?: number;
  /**
   * How long records of delete-policy topics every consumer group committed past are kept
   * once their segment is sealed, for topics created without `retention.ms` (default 60 s).
   */
  retentionMs?: number;
  /** Where the log reports what it could not handle itself (e.g. a pino logger). */
  logger?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

/**
 * Kafka, as far as Weft uses it, in this process: topics, consumer groups, transactions and
 * committed offsets on a durable log in one directory. The roles take it where they take a
 * kafkajs client.
 */
export class EmbeddedKafka implements KafkaPort {
  private readonly groups: GroupCoordinator;
  private readonly partitioner: Partitioner = defaultPartitioner();
  private readonly consumers = new Set<EmbeddedConsumer>();
  private readonly members = new Set<EmbeddedGroupMember>();
  private readonly warn: (obj: object, msg: string) => void;

  private constructor(
    readonly log: EmbeddedLog,
    options: EmbeddedKafkaOptions,
  ) {
    this.groups = new GroupCoordinator(log);
    const logger = options.logger;
    this.warn = logger ? (obj, msg) => logger.warn(obj, msg) : () => undefined;
  }

  /** Opens (or creates) the log in `directory`, replaying it; fails if another process has it. */
  static async open(options: EmbeddedKafkaOptions): Promise<EmbeddedKafka> {
    const log = await EmbeddedLog.open({
      directory: options.directory,
      sync: options.sync,
      syncIntervalMs: options.syncIntervalMs,
      segmentBytes: options.segmentBytes,
      retentionMs: options.retentionMs,
      onMigrated: (info) => {
        const logger = options.logger;
        const message = `embedded log: ${info.from} (a log of one file, from an earlier Weft) is now the first segment of the log, ${info.to}`;
        if (logger?.info) logger.info(info, message);
        else logger?.warn(info, message);
      },
      onTornTail: (info) =>
        options.logger?.warn(
          info,
          `embedded log: dropped its last frame, which ${info.fault} (a write cut short by a crash); its ${info.droppedBytes} bytes are kept in ${info.savedTo}`,
        ),
    });
    return new EmbeddedKafka(log, options);
  }

  producer(config: PortProducerConfig = {}): PortProducer {
    return new EmbeddedProducer(this.log, config, this.partitioner);
  }

  consumer(config: PortConsumerConfig): PortConsumer {
    const consumer = new EmbeddedConsumer(this.log, this.groups, config, this.warn, () =>
      this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** A member's share of a topic's partitions, dealt over this process's members of the group. */
  ownership(options: OwnershipOptions): PortPartitionOwnership {
    const member: EmbeddedGroupMember = new EmbeddedGroupMember(this.log, this.groups, {
      groupId: options.groupId,
      topic: options.topic,
      fromBeginning: options.fromBeginning ?? true,
      concurrency: options.concurrency,
      maxWaitMs: MEMBER_MAX_WAIT_MS,
      fetchMaxBytes: options.fetchMaxBytes ?? MAX_FETCH_BYTES,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs,
      warn: this.warn,
      onLeft: () => this.members.delete(member),
    });
    this.members.add(member);
    return member;
  }

  topicReader(): PortTopicReader {
    return embeddedTopicReader(this.log);
  }

  admin(): PortAdmin {
    return new EmbeddedAdmin(this.log);
  }

  /** Stops every consumer made here and closes the log (syncing it). */
  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await Promise.all([...this.members].map((m) => m.leave()));
    this.consumers.clear();
    this.members.clear();
    await this.log.close();
  }
}
