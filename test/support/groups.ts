import type { Kafka } from "kafkajs";
import { assignedPartitions } from "../../adapters/kafka/group-assignment";

/** Partitions of `topic` each live member of `groupId` owns, by member client host/id. */
export async function groupAssignment(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<number[][]> {
  return (await groupMembers(kafka, groupId, topic)).members.map((m) => m.partitions);
}

/** A consumer group as its coordinator describes it: its state, and each member's partitions. */
export interface DescribedGroup {
  state: string;
  members: { clientId: string; partitions: number[] }[];
}

/** `groupId` described: each live member's client ID (one per Weft process) and partitions of `topic`. */
export async function groupMembers(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<DescribedGroup> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    return {
      state: group?.state ?? "Dead",
      members: (group?.members ?? []).map((m) => ({
        clientId: m.clientId,
        partitions: assignedPartitions(m, topic),
      })),
    };
  } finally {
    await admin.disconnect();
  }
}
