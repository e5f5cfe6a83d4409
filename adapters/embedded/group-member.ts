import { randomUUID } from "node:crypto";
import type { OwnedBatch, OwnershipListener, PortPartitionOwnership } from "../../transport/port";
import { unknownTopicOrPartition } from "./errors";
import { fetchMessages } from "./fetch";
import type { EmbeddedLog } from "./log";

/** After a listener threw, the partition is fetched again from its last record taken. */
const RETRY_AFTER_THROW_MS = 1000;

export interface MemberOptions {
  groupId: string;
  topic: string;
  /** Where a partition without a committed offset starts: its first record, else its end. */
  fromBeginning: boolean;
  /** Partitions whose fetched records are handled at once. */
  concurrency: number;
  /** How long a caught-up partition waits for a record before it looks again. */
  maxWaitMs: number;
  /** The most one fetch reads (never above MAX_FETCH_BYTES, see fetch.ts). */
  fetchMaxBytes: number;
  /** How long a rebalance waits for the batches in hand. */
  rebalanceTimeoutMs: number;
  warn: (obj: object, msg: string) => void;
  /** Called once the member left its group. */
  onLeft?: () => void;
}

/** What the group coordinator asks of a member. */
export interface GroupMember {
  readonly groupId: string;
  readonly memberId: string;
  readonly topic: string;
  /** Finish the batches in hand and stop fetching. */
  revoke(): Promise<void>;
  /** The member's partitions in the group's new generation. */
  assign(generation: number, partitions: readonly number[]): void;
}

/** The members of each group of one embedded log, all in this process. */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly log: EmbeddedLog) {}

  join(member: GroupMember): Promise<void> {
    let group = this.groups.get(member.groupId);
    if (!group) this.groups.set(member.groupId, (group = new Group(this.log)));
    group.members.push(member);
    return group.rebalance();
  }

  leave(member: GroupMember): Promise<void> {
    const group = this.groups.get(member.groupId);
    if (!group) return Promise.resolve();
    const at = group.members.indexOf(member);
    if (at < 0) return Promise.resolve();
    group.members.splice(at, 1);
    if (group.members.length === 0) {
      this.groups.delete(member.groupId);
      return group.settled();
    }
    return group.rebalance();
  }
}

/**
 * Any join or leave rebalances the group like Kafka's eager protocol: every member finishes
 * the batches in hand (up to its rebalance timeout) and stops fetching, then each topic's
 * partitions are dealt round-robin over the members reading it, in member-ID order.
 */
class Group {
  readonly members: GroupMember[] = [];
  private generation = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly log: EmbeddedLog) {}

  rebalance(): Promise<void> {
    this.chain = this.chain.then(() => this.rebalanceNow());
    return this.chain;
  }

  settled(): Promise<void> {
    return this.chain;
  }

  private async rebalanceNow(): Promise<void> {
    const members = [...this.members].sort((a, b) => a.memberId.localeCompare(b.memberId));
    if (members.length === 0) return;
    const generation = ++this.generation;
    await Promise.all(members.map((m) => m.revoke()));
    const assignment = new Map<GroupMember, number[]>(members.map((m) => [m, []]));
    for (const topic of new Set(members.map((m) => m.topic))) {
      const count = this.log.partitionCount(topic) ?? 0;
      const reading = members.filter((m) => m.topic === topic);
      for (let p = 0; p < count; p++) assignment.get(reading[p % reading.length]!)!.push(p);
    }
    for (const member of members) {
      if (this.members.includes(member)) member.assign(generation, assignment.get(member)!);
    }
  }
}

interface Position {
  offset: number;
  /** A seek not yet applied: the batch in hand is stale. */
  seekTo: number | undefined;
  paused: boolean;
}

/**
 * A member's share of a topic's partitions on the embedded log: the group deals them over the
 * members in this process, and the member fetches those it holds. Every record here is
 * committed (a transaction is one append). The group knows exactly who holds what, so `holds`
 * answers from it; nothing here ever crashes or needs a heartbeat.
 */
export class EmbeddedGroupMember implements PortPartitionOwnership, GroupMember {
  readonly memberId = `embedded-${randomUUID()}`;
  private listener: OwnershipListener | undefined;
  private readonly positions = new Map<number, Position>();
  private readonly wakers = new Set<() => void>();
  private readonly loops = new Set<Promise<void>>();
  private running = false;
  private fetching = true;
  private generation = 0;
  private revoking = false;
  private slots = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private joined: (() => void) | undefined;

  constructor(
    private readonly log: EmbeddedLog,
    private readonly groups: GroupCoordinator,
    private readonly options: MemberOptions,
  ) {}

  get groupId(): string {
    return this.options.groupId;
  }

  get topic(): string {
    return this.options.topic;
  }

  async start(listener: OwnershipListener): Promise<void> {
    if (this.running) throw new Error("the member has started already");
    if (this.log.partitionCount(this.topic) === undefined)
      throw unknownTopicOrPartition(this.topic);
    this.listener = listener;
    this.running = true;
    const joined = new Promise<void>((resolve) => (this.joined = resolve));
    void this.groups.join(this);
    await joined;
  }

  stopFetching(): void {
    this.fetching = false;
  }

  /** Fetching again after `stopFetching` (the kafkajs-shaped consumer pauses a whole topic). */
  resumeFetching(): void {
    this.fetching = true;
    this.wake();
  }

  /** As a Kafka consumer does: finishes the batches in hand, then leaves (the others get the partitions). */
  async leave(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.fetching = false;
    this.wake();
    await this.revoke();
    await this.groups.leave(this);
    this.positions.clear();
    this.joined?.();
    this.options.onLeft?.();
  }

  commit(offsets: readonly { partition: number; offset: string }[]): Promise<void> {
    return commitOffsets(
      this.log,
      this.groupId,
      offsets.map((o) => ({ topic: this.topic, ...o })),
    );
  }

  committedOffset(partition: number): Promise<bigint | undefined> {
    const offset = this.log.committedOffset(this.groupId, this.topic, partition);
    return Promise.resolve(offset === undefined ? undefined : BigInt(offset));
  }

  endOffset(partition: number): Promise<bigint> {
    return Promise.resolve(BigInt(this.log.highWatermark(this.topic, partition)));
  }

  holds(partition: number): Promise<boolean> {
    return Promise.resolve(this.running && !this.revoking && this.positions.has(partition));
  }

  seek(partition: number, offset: bigint): void {
    const position = this.positions.get(partition);
    if (!position) return;
    position.seekTo = Math.max(0, Number(offset));
    this.wake();
  }

  pause(partition: number): void {
    const position = this.positions.get(partition);
    if (position) position.paused = true;
  }

  resume(partition: number): void {
    const position = this.positions.get(partition);
    if (position) position.paused = false;
    this.wake();
  }

  /** @internal The group asks this member to finish the batches in hand and stop fetching. */
  async revoke(): Promise<void> {
    this.revoking = true;
    this.wake();
    const timeout = this.options.rebalanceTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.loops]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
    ]);
    clearTimeout(timer);
    if (this.loops.size > 0)
      this.options.warn(
        { groupId: this.groupId, timeoutMs: timeout },
        "a batch outlived the rebalance timeout; its partition is reassigned anyway",
      );
  }

  /** @internal The group's new assignment for this member. */
  assign(generation: number, partitions: readonly number[]): void {
    if (!this.running) return;
    this.generation = generation;
    this.revoking = false;
    this.positions.clear();
    const { topic } = this;
    for (const partition of partitions) {
      const committed = this.log.committedOffset(this.groupId, topic, partition);
      const start =
        committed ?? (this.options.fromBeginning ? 0 : this.log.highWatermark(topic, partition));
      this.positions.set(partition, { offset: start, seekTo: undefined, paused: false });
    }
    try {
      this.listener!.assigned(new Set(partitions));
    } catch (err) {
      this.options.warn({ err, groupId: this.groupId }, "an assignment listener threw");
    }
    for (const partition of partitions) this.startLoop(generation, partition);
    this.joined?.();
    this.joined = undefined;
  }

  private startLoop(generation: number, partition: number): void {
    const loop = this.fetchLoop(generation, partition).catch((err: unknown) =>
      this.options.warn({ err, topic: this.topic, partition }, "embedded fetch loop failed"),
    );
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  private current(generation: number): boolean {
    return this.running && !this.revoking && this.generation === generation;
  }

  private async fetchLoop(generation: number, partition: number): Promise<void> {
    const position = this.positions.get(partition)!;
    const { topic } = this;
    while (this.current(generation)) {
      if (position.seekTo !== undefined) {
        position.offset = position.seekTo;
        position.seekTo = undefined;
      }
      if (position.paused || !this.fetching) {
        await this.sleep(this.options.maxWaitMs);
        continue;
      }
      if (this.log.highWatermark(topic, partition) <= position.offset) {
        await this.log.waitForRecords(
          topic,
          partition,
          position.offset,
          this.options.maxWaitMs,
          this.wakers,
        );
        continue;
      }
      await this.acquireSlot();
      try {
        if (!this.current(generation)) return;
        await this.deliver(generation, partition, position);
      } finally {
        this.releaseSlot();
      }
    }
  }

  private async deliver(generation: number, partition: number, position: Position): Promise<void> {
    const { topic } = this;
    const listener = this.listener!;
    const {
      from,
      messages,
      end: next,
    } = fetchMessages(this.log, topic, partition, position.offset, this.options.fetchMaxBytes);
    const end = BigInt(this.log.highWatermark(topic, partition));
    const last = next - 1;
    if (messages.length === 0) {
      // Only gaps: move past them and say so, as a Kafka fetch of filtered records does.
      position.offset = next;
      listener.skipped(partition, BigInt(from), BigInt(last));
      return;
    }
    const isStale = () =>
      position.seekTo !== undefined ||
      this.generation !== generation ||
      this.revoking ||
      !this.running;
    let taken: number | undefined;
    const batch: OwnedBatch = {
      partition,
      messages,
      first: BigInt(messages[0]!.offset),
      last: BigInt(last),
      end,
      isStale,
      take: (offset) => {
        if (!isStale()) taken = Math.max(taken ?? -1, Number(offset));
      },
      heartbeat: () => Promise.resolve(),
    };
    try {
      await listener.fetched(batch);
    } catch (err) {
      if (taken !== undefined && !isStale()) position.offset = taken + 1;
      this.options.warn({ err, topic, partition }, "a fetched batch failed; fetching it again");
      await this.sleep(RETRY_AFTER_THROW_MS);
      return;
    }
    if (taken !== undefined && !isStale()) position.offset = taken + 1;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  private acquireSlot(): Promise<void> {
    if (this.slots < Math.max(1, this.options.concurrency)) {
      this.slots++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.slots--;
  }
}

/** Stores a group's offsets (outside any transaction), on the next turn as a broker would. */
export function commitOffsets(
  log: EmbeddedLog,
  group: string,
  offsets: readonly { topic: string; partition: number; offset: string }[],
): Promise<void> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        log.append(
          [],
          offsets.map((o) => ({ group, ...o, offset: Number(o.offset) })),
        );
        resolve();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }),
  );
}
