import { AssignerProtocol, type Kafka } from "kafkajs";

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
    return members.map((m) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      return [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
    });
  } finally {
    await admin.disconnect();
  }
}
