import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

/**
 * A kafkajs partition assigner that gives each member the partitions it claims where balance
 * allows.
 *
 * kafkajs's round-robin assigner deals partitions out by sorted member ID, so one decider
 * joining or leaving moves most partitions, and every moved partition costs its new owner a
 * restore. Here each member reports what it claims in its join metadata (a decider, what it
 * owns; a worker beside a decider, the task partitions that decider writes to); the leader
 * gives those, up to an even share, and deals out only the rest. A decider's crash then moves
 * only its own partitions, a new decider takes only its share, and each worker sits beside
 * the decider whose tasks it runs.
 */
export const STICKY_ASSIGNER = "WeftStickyAssigner";
const VERSION = 1;

/** `owned()`: topic → the partitions this member claims now (asked at each join). */
export function stickyAssigner(owned: () => Record<string, number[]>): PartitionAssigner {
  return ({ cluster }) => ({
    name: STICKY_ASSIGNER,
    version: VERSION,
    protocol({ topics }) {
      return {
        name: STICKY_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: Buffer.from(JSON.stringify(owned())),
        }),
      };
    },
    // kafkajs awaits assign; nothing here needs to.
    // eslint-disable-next-line @typescript-eslint/require-await
    async assign({ members, topics }) {
      const reported = new Map<string, Record<string, number[]>>();
      for (const { memberId, memberMetadata } of members)
        reported.set(memberId, ownedFrom(memberMetadata));
      const ids = members.map((m) => m.memberId);
      const assignment = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        const previous = new Map(ids.map((id) => [id, reported.get(id)?.[topic] ?? []]));
        for (const [id, list] of stickyPlan(partitions, ids, previous))
          assignment.get(id)![topic] = list;
      }
      return ids.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: VERSION,
          assignment: assignment.get(memberId)!,
          userData: Buffer.alloc(0),
        }),
      }));
    },
  });
}

/** A member's reported partitions; anything unreadable counts as owning nothing. */
function ownedFrom(metadata: Buffer): Record<string, number[]> {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(metadata);
    if (!decoded?.userData || decoded.userData.length === 0) return {};
    const value = JSON.parse(decoded.userData.toString("utf8")) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, number[]>) : {};
  } catch {
    return {};
  }
}

/**
 * Deals `partitions` to `members` (each gets ⌊P/M⌋ or ⌈P/M⌉) keeping what each had before
 * where its share allows. A partition two members claim (one of them a zombie) goes to one.
 * Deterministic: the same inputs give the same plan on any leader.
 */
export function stickyPlan(
  partitions: readonly number[],
  members: readonly string[],
  previous: ReadonlyMap<string, readonly number[]>,
): Map<string, number[]> {
  const plan = new Map<string, number[]>(members.map((m) => [m, []]));
  if (members.length === 0) return plan;
  const valid = new Set(partitions);
  const had = (m: string) => (previous.get(m) ?? []).filter((p) => valid.has(p));
  // The larger shares go to the members that had the most, so fewer partitions move.
  const order = [...members].sort((a, b) => had(b).length - had(a).length || a.localeCompare(b));
  const base = Math.floor(partitions.length / members.length);
  const extra = partitions.length % members.length;
  const share = new Map(order.map((m, i) => [m, base + (i < extra ? 1 : 0)]));
  const taken = new Set<number>();
  for (const member of order) {
    const mine = plan.get(member)!;
    for (const p of [...had(member)].sort((a, b) => a - b)) {
      if (mine.length >= share.get(member)!) break;
      if (taken.has(p)) continue;
      taken.add(p);
      mine.push(p);
    }
  }
  const free = [...partitions].filter((p) => !taken.has(p)).sort((a, b) => a - b);
  for (const member of order) {
    const mine = plan.get(member)!;
    while (mine.length < share.get(member)! && free.length > 0) mine.push(free.shift()!);
    mine.sort((a, b) => a - b);
  }
  return plan;
}
