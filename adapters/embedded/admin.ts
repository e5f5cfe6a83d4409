import type {
  PortAdmin,
  PortGroupOffsets,
  PortPartitionMetadata,
  PortTopicConfig,
  PortTopicOffsets,
} from "../../transport/port";
import { unknownTopicOrPartition } from "./errors";
import type { EmbeddedLog } from "./log";

/** Topics and group offsets of the embedded log. Replication settings mean nothing here. */
export class EmbeddedAdmin implements PortAdmin {
  constructor(private readonly log: EmbeddedLog) {}

  connect(): Promise<void> {
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  createTopics(options: { topics: PortTopicConfig[] }): Promise<boolean> {
    return attempt(() => {
      let created = false;
      for (const t of options.topics) {
        const entries = t.configEntries ?? [];
        const retention = entries.find((e) => e.name === "retention.ms")?.value;
        created =
          this.log.createTopic(
            t.topic,
            t.numPartitions ?? 1,
            entries.some(
              (e) => e.name === "cleanup.policy" && e.value.split(",").includes("compact"),
            ),
            retention !== undefined && Number.isFinite(Number(retention))
              ? Number(retention)
              : undefined,
          ) || created;
      }
      return created;
    });
  }

  listTopics(): Promise<string[]> {
    return Promise.resolve(this.log.topicNames());
  }

  fetchTopicMetadata(options?: {
    topics: string[];
  }): Promise<{ topics: { name: string; partitions: PortPartitionMetadata[] }[] }> {
    return attempt(() => ({
      topics: (options?.topics ?? this.log.topicNames()).map((name) => {
        const count = this.log.partitionCount(name);
        if (count === undefined) throw unknownTopicOrPartition(name);
        return {
          name,
          partitions: Array.from({ length: count }, (_, partitionId) => ({
            partitionErrorCode: 0,
            partitionId,
            leader: 0,
            replicas: [0],
            isr: [0],
          })),
        };
      }),
    }));
  }

  fetchTopicOffsets(topic: string): Promise<PortTopicOffsets[]> {
    return attempt(() => {
      const count = this.log.partitionCount(topic);
      if (count === undefined) throw unknownTopicOrPartition(topic);
      return Array.from({ length: count }, (_, partition) => {
        const high = String(this.log.highWatermark(topic, partition));
        const low = String(this.log.lowWatermark(topic, partition));
        return { partition, offset: high, high, low };
      });
    });
  }

  fetchOffsets(options: { groupId: string; topics?: string[] }): Promise<PortGroupOffsets[]> {
    return attempt(() =>
      (options.topics ?? this.log.topicNames()).map((topic) => {
        const count = this.log.partitionCount(topic);
        if (count === undefined) throw unknownTopicOrPartition(topic);
        return {
          topic,
          partitions: Array.from({ length: count }, (_, partition) => ({
            partition,
            offset: String(this.log.committedOffset(options.groupId, topic, partition) ?? -1),
            metadata: null,
          })),
        };
      }),
    );
  }

  deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode?: number }[]> {
    return attempt(() =>
      groupIds.map((groupId) => {
        this.log.deleteGroup(groupId);
        return { groupId, errorCode: 0 };
      }),
    );
  }
}

function attempt<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
