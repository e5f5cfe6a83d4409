import { AssignerProtocol } from "kafkajs";

/**
 * The partitions of `topic` assigned to a member of a consumer group as its coordinator
 * describes it (DescribeGroups), sorted; none when the member holds none of the topic.
 */
export function assignedPartitions(member: { memberAssignment: Buffer }, topic: string): number[] {
  const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
  return [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
}
