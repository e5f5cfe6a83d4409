/**
 * Where each partition of a topic ends counting the records of transactions still undecided:
 * the high watermark. The port's `fetchTopicOffsets` answers as read_committed does, with the
 * last stable offset, which stops before the first open transaction.
 *
 * Why a reader needs both: a Kafka transaction that spans partitions becomes visible on each
 * of them when its commit marker is written there, and the coordinator writes those markers one
 * partition at a time. A decider's transaction commits its offsets on `weft.commands` (in
 * `__consumer_offsets`) and the history they made; the offsets can be readable a moment before
 * the history is. A reader that takes "the deciders committed past my command" as "its history
 * is readable" must wait until the history partition's records written by then are decided:
 * until its position reaches the high watermark read after the offsets.
 *
 * The embedded log commits a transaction's records and offsets in one frame, so its end offset
 * is already the written end.
 */
import type { KafkaPort, PortAdmin } from "./port";
import {
  clusterFactory,
  READ_UNCOMMITTED,
  type KafkajsCluster,
} from "../adapters/kafka/kafkajs-cluster";

export class WrittenEnd {
  private readonly cluster: KafkajsCluster | undefined;
  private connecting: Promise<void> | undefined;
  private stale = false;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly topic: string,
    /** The admin the caller already holds: the embedded log's ends come from it. */
    private readonly admin: () => Promise<PortAdmin>,
  ) {
    const create = clusterFactory(kafka);
    this.cluster = create?.({ allowAutoTopicCreation: false, isolationLevel: READ_UNCOMMITTED });
  }

  /** The partition's high watermark now. */
  async of(partition: number): Promise<bigint> {
    if (!this.cluster) {
      const ends = await (await this.admin()).fetchTopicOffsets(this.topic);
      const end = ends.find((o) => o.partition === partition)?.high;
      if (end === undefined) throw new Error(`${this.topic} has no partition ${partition}`);
      return BigInt(end);
    }
    const cluster = this.cluster;
    this.connecting ??= (async () => {
      await cluster.connect();
      await cluster.addTargetTopic(this.topic);
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    try {
      await this.connecting;
      if (this.stale) await cluster.refreshMetadata();
      this.stale = false;
      const [answer] = await cluster.fetchTopicsOffset([
        { topic: this.topic, partitions: [{ partition }], fromBeginning: false },
      ]);
      const end = answer?.partitions.find((p) => p.partition === partition)?.offset;
      if (end === undefined) throw new Error(`${this.topic} has no partition ${partition}`);
      return BigInt(end);
    } catch (err) {
      // A leader moved or a connection dropped: the next call asks fresh metadata.
      this.stale = true;
      throw err;
    }
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting && this.cluster) {
      await connecting.catch(() => undefined);
      await this.cluster.disconnect();
    }
  }
}
