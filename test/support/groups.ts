import type { Kafka } from "kafkajs";
import { assignedPartitions } from "../../adapters/kafka/group-assignment";

/** Partitions of `topic` each live member of `groupId` owns, by member client host/id. */
export async function groupAssignment(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<number[][]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members ?? [];
    return members.map((m) => assignedPartitions(m, topic));
  } finally {
    await admin.disconnect();
  }
}
