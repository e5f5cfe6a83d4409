import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type {
  PortBatch,
  PortConsumedMessage,
  PortConsumer,
  PortConsumerConfig,
  PortConsumerEvents,
  PortConsumerRunConfig,
  PortEachBatchPayload,
  PortEvent,
  PortHeaders,
  PortTopicPartitionOffset,
  PortTopicPartitions,
} from "../../transport/port";
import { addHeader } from "../../transport/headers";
import { unknownTopicOrPartition } from "./errors";
import type { EmbeddedLog, StoredRecord } from "./log";

const EVENTS: PortConsumerEvents = {
  GROUP_JOIN: "consumer.group_join",
  CRASH: "consumer.crash",
  END_BATCH_PROCESS: "consumer.end_batch_process",
};

/** Defaults of kafkajs 2.2.4 where Weft does not set them. */
const DEFAULT_MAX_WAIT_MS = 5000;
const DEFAULT_MAX_BYTES_PER_PARTITION = 1024 * 1024;
const DEFAULT_REBALANCE_TIMEOUT_MS = 60_000;
/**
 * The most one fetch reads, whatever `maxBytesPerPartition` asks: a fetch here reads the disk
 * synchronously on the event loop every role of the process shares (a broker reads elsewhere),
 * so its size is how long the others wait. A projector catching up with 4 MiB fetches held a
 * restart's decider and first run back by a second and more at 40,000 runs.
 */
export const MAX_FETCH_BYTES = 256 * 1024;
/** After eachBatch threw, the partition is fetched again from its last resolved offset. */
const CRASH_RETRY_MS = 1000;

const key = (topic: string, partition: number) => `${topic}\0${partition}`;

/**
 * The consumer groups of one embedded log: members live in this process. Any join or leave
 * rebalances the group like Kafka's eager protocol: every member finishes the batches in hand
 * (up to its rebalance timeout) and stops fetching, then each gets its new partitions
 * (round-robin over members in ID order), positioned at the group's committed offsets.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly log: EmbeddedLog) {}

  join(member: EmbeddedConsumer): Promise<void> {
    let group = this.groups.get(member.groupId);
    if (!group) this.groups.set(member.groupId, (group = new Group(member.groupId, this.log)));
    group.members.push(member);
    return group.rebalance();
  }

  leave(member: EmbeddedConsumer): Promise<void> {
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

class Group {
  readonly members: EmbeddedConsumer[] = [];
  private generation = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly log: EmbeddedLog,
  ) {}

  rebalance(): Promise<void> {
    this.chain = this.chain.then(() => this.rebalanceNow());
    return this.chain;
  }

  settled(): Promise<void> {
    return this.chain;
  }

  private async rebalanceNow(): Promise<void> {
    const started = Date.now();
    const members = [...this.members].sort((a, b) => a.memberId.localeCompare(b.memberId));
    if (members.length === 0) return;
    const generation = ++this.generation;
    await Promise.all(members.map((m) => m.revoke()));
    const assignment = new Map<EmbeddedConsumer, Map<string, number[]>>(
      members.map((m) => [m, new Map()]),
    );
    const topics = new Set(members.flatMap((m) => [...m.topics]));
    for (const topic of [...topics].sort()) {
      const count = this.log.partitionCount(topic) ?? 0;
      const subscribed = members.filter((m) => m.topics.has(topic));
      for (let p = 0; p < count; p++) {
        const owner = subscribed[p % subscribed.length]!;
        const own = assignment.get(owner)!;
        own.set(topic, [...(own.get(topic) ?? []), p]);
      }
    }
    const leaderId = members[0]!.memberId;
    for (const member of members) {
      if (!this.members.includes(member)) continue;
      member.assign(generation, assignment.get(member)!, leaderId, Date.now() - started);
    }
  }
}

interface Position {
  offset: number;
  /** A seek not yet applied: the batch in hand is stale. */
  seekTo: number | undefined;
  paused: boolean;
}

/** A member of an embedded consumer group; reads committed records only (all records are). */
export class EmbeddedConsumer implements PortConsumer {
  readonly events = EVENTS;
  readonly memberId = `embedded-${randomUUID()}`;
  readonly topics = new Set<string>();
  private readonly emitter = new EventEmitter();
  private readonly fromBeginning = new Map<string, boolean>();
  private readonly positions = new Map<string, Position>();
  private readonly pausedTopics = new Set<string>();
  private readonly wakers = new Set<() => void>();
  private readonly loops = new Set<Promise<void>>();
  private run$: Required<Omit<PortConsumerRunConfig, "eachBatch">> &
    Pick<PortConsumerRunConfig, "eachBatch"> = {
    autoCommit: true,
    eachBatchAutoResolve: true,
    partitionsConsumedConcurrently: 1,
  };
  private running = false;
  private member = false;
  private generation = 0;
  private revoking = false;
  private inFlight = 0;
  private slots = 0;
  private slotWaiters: (() => void)[] = [];
  private joined: (() => void) | undefined;

  constructor(
    private readonly log: EmbeddedLog,
    private readonly groups: GroupCoordinator,
    private readonly config: PortConsumerConfig,
    private readonly warn: (obj: object, msg: string) => void,
    private readonly onStopped: () => void = () => undefined,
  ) {
    this.emitter.setMaxListeners(0);
  }

  get groupId(): string {
    return this.config.groupId;
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  async disconnect(): Promise<void> {
    await this.stop();
  }

  subscribe(
    subscription:
      { topic: string; fromBeginning?: boolean } | { topics: string[]; fromBeginning?: boolean },
  ): Promise<void> {
    if (this.running)
      return Promise.reject(new Error("subscribe before run: the consumer is running"));
    const topics = "topics" in subscription ? subscription.topics : [subscription.topic];
    for (const topic of topics) {
      if (this.log.partitionCount(topic) === undefined)
        return Promise.reject(unknownTopicOrPartition(topic));
      this.topics.add(topic);
      this.fromBeginning.set(topic, subscription.fromBeginning ?? false);
    }
    return Promise.resolve();
  }

  async run(config: PortConsumerRunConfig = {}): Promise<void> {
    if (this.running) throw new Error("the consumer is already running");
    if (!config.eachBatch) throw new TypeError("run() needs eachBatch");
    this.run$ = {
      autoCommit: config.autoCommit ?? true,
      eachBatchAutoResolve: config.eachBatchAutoResolve ?? true,
      partitionsConsumedConcurrently: Math.max(1, config.partitionsConsumedConcurrently ?? 1),
      eachBatch: config.eachBatch,
    };
    this.running = true;
    this.member = true;
    const joined = new Promise<void>((resolve) => (this.joined = resolve));
    void this.groups.join(this);
    await joined;
  }

  async stop(): Promise<void> {
    if (!this.member) return;
    this.running = false;
    this.member = false;
    this.wake();
    // As kafkajs does: finish the batches in hand, then leave (the others get the partitions).
    await this.revoke();
    await this.groups.leave(this);
    this.positions.clear();
    this.joined?.();
    this.onStopped();
  }

  commitOffsets(offsets: PortTopicPartitionOffset[]): Promise<void> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          this.log.append(
            [],
            offsets.map((o) => ({
              group: this.groupId,
              topic: o.topic,
              partition: o.partition,
              offset: Number(o.offset),
            })),
          );
          resolve();
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
  }

  seek({ topic, partition, offset }: PortTopicPartitionOffset): void {
    const position = this.positions.get(key(topic, partition));
    if (!position) return;
    position.seekTo = Math.max(0, Number(offset));
    this.wake();
  }

  pause(topics: PortTopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      if (!partitions) this.pausedTopics.add(topic);
      for (const p of partitions ?? []) {
        const position = this.positions.get(key(topic, p));
        if (position) position.paused = true;
      }
    }
  }

  resume(topics: PortTopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      if (!partitions) {
        this.pausedTopics.delete(topic);
        for (const [k, position] of this.positions)
          if (k.startsWith(`${topic}\0`)) position.paused = false;
      }
      for (const p of partitions ?? []) {
        const position = this.positions.get(key(topic, p));
        if (position) position.paused = false;
      }
    }
    this.wake();
  }

  on(eventName: string, listener: (event: PortEvent<never>) => void): () => void {
    this.emitter.on(eventName, listener);
    return () => this.emitter.off(eventName, listener);
  }

  /** @internal The group asks this member to finish the batches in hand and stop fetching. */
  async revoke(): Promise<void> {
    this.revoking = true;
    this.wake();
    const timeout = this.config.rebalanceTimeout ?? DEFAULT_REBALANCE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.loops]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout))),
    ]);
    clearTimeout(timer);
    if (this.loops.size > 0)
      this.warn(
        { groupId: this.groupId, timeoutMs: timeout },
        "a batch outlived the rebalance timeout; its partition is reassigned anyway",
      );
  }

  /** @internal The group's new assignment for this member. */
  assign(
    generation: number,
    assignment: Map<string, number[]>,
    leaderId: string,
    duration: number,
  ): void {
    if (!this.running) return;
    this.generation = generation;
    this.revoking = false;
    this.positions.clear();
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        const committed = this.log.committedOffset(this.groupId, topic, partition);
        const start =
          committed ??
          (this.fromBeginning.get(topic) ? 0 : this.log.highWatermark(topic, partition));
        this.positions.set(key(topic, partition), {
          offset: start,
          seekTo: undefined,
          paused: this.pausedTopics.has(topic),
        });
      }
    }
    this.emit(EVENTS.GROUP_JOIN, {
      duration,
      groupId: this.groupId,
      isLeader: leaderId === this.memberId,
      leaderId,
      groupProtocol: "RoundRobinAssigner",
      memberId: this.memberId,
      memberAssignment: Object.fromEntries(assignment),
    });
    for (const [topic, partitions] of assignment)
      for (const partition of partitions) this.startLoop(generation, topic, partition);
    this.joined?.();
    this.joined = undefined;
  }

  private startLoop(generation: number, topic: string, partition: number): void {
    const loop = this.fetchLoop(generation, topic, partition).catch((err: unknown) =>
      this.warn({ err, topic, partition }, "embedded fetch loop failed"),
    );
    this.loops.add(loop);
    void loop.finally(() => this.loops.delete(loop));
  }

  private current(generation: number): boolean {
    return this.running && !this.revoking && this.generation === generation;
  }

  private async fetchLoop(generation: number, topic: string, partition: number): Promise<void> {
    const position = this.positions.get(key(topic, partition))!;
    const maxWait = this.config.maxWaitTimeInMs ?? DEFAULT_MAX_WAIT_MS;
    while (this.current(generation)) {
      if (position.seekTo !== undefined) {
        position.offset = position.seekTo;
        position.seekTo = undefined;
      }
      if (position.paused || this.pausedTopics.has(topic)) {
        await this.sleep(maxWait);
        continue;
      }
      if (this.log.highWatermark(topic, partition) <= position.offset) {
        await this.log.waitForRecords(topic, partition, position.offset, maxWait, this.wakers);
        continue;
      }
      await this.acquireSlot();
      try {
        if (!this.current(generation)) return;
        await this.deliver(generation, topic, partition, position);
      } finally {
        this.releaseSlot();
      }
    }
  }

  private async deliver(
    generation: number,
    topic: string,
    partition: number,
    position: Position,
  ): Promise<void> {
    const started = Date.now();
    // Offsets below the low watermark are gone (retention, compaction): as Kafka's consumers
    // reset to the earliest offset, the fetch starts there.
    const from = Math.max(position.offset, this.log.lowWatermark(topic, partition));
    const fetched = this.log.fetch(
      topic,
      partition,
      from,
      Math.min(
        this.config.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
        MAX_FETCH_BYTES,
      ),
    );
    const high = this.log.highWatermark(topic, partition);
    const messages = fetched.records.map((r, i) => toMessage(r, fetched.offsets[i]!));
    const last = fetched.end - 1;
    if (messages.length === 0) {
      // Only gaps: as kafkajs does with a fetch whose records were all filtered out, move past
      // them and say so (END_BATCH_PROCESS) without handing eachBatch an empty batch.
      position.offset = fetched.end;
      if (this.run$.autoCommit && this.generation === generation)
        await this.commitOffsets([{ topic, partition, offset: String(fetched.end) }]);
      this.emitEndBatch(topic, partition, high, from, last, 0, started);
      return;
    }
    const batch: PortBatch = {
      topic,
      partition,
      highWatermark: String(high),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => String(last),
    };
    const isStale = () => position.seekTo !== undefined || this.generation !== generation;
    let resolved: number | undefined;
    const payload: PortEachBatchPayload = {
      batch,
      resolveOffset: (offset) => {
        if (!isStale()) resolved = Math.max(resolved ?? -1, Number(offset));
      },
      heartbeat: () => Promise.resolve(),
      pause: () => {
        this.pause([{ topic, partitions: [partition] }]);
        return () => this.resume([{ topic, partitions: [partition] }]);
      },
      isRunning: () => this.running,
      isStale: () => isStale() || this.revoking,
    };
    this.inFlight++;
    try {
      await this.run$.eachBatch!(payload);
    } catch (err) {
      if (resolved !== undefined && !isStale()) position.offset = resolved + 1;
      this.emit(EVENTS.CRASH, {
        error: err instanceof Error ? err : new Error(String(err)),
        groupId: this.groupId,
        restart: true,
      });
      await this.sleep(CRASH_RETRY_MS);
      return;
    } finally {
      this.inFlight--;
    }
    if (this.run$.eachBatchAutoResolve && !isStale()) resolved = last;
    if (resolved !== undefined && !isStale()) {
      position.offset = resolved + 1;
      if (this.run$.autoCommit && this.generation === generation)
        await this.commitOffsets([{ topic, partition, offset: String(resolved + 1) }]);
    }
    this.emitEndBatch(topic, partition, high, from, last, messages.length, started);
  }

  private emitEndBatch(
    topic: string,
    partition: number,
    high: number,
    from: number,
    last: number,
    batchSize: number,
    started: number,
  ): void {
    this.emit(EVENTS.END_BATCH_PROCESS, {
      topic,
      partition,
      highWatermark: String(high),
      offsetLag: String(Math.max(0, high - 1 - last)),
      offsetLagLow: String(Math.max(0, high - 1 - from)),
      batchSize,
      firstOffset: String(from),
      lastOffset: String(last),
      duration: Date.now() - started,
    });
  }

  private emit(type: string, payload: unknown): void {
    const event = { id: randomUUID(), type, timestamp: Date.now(), payload };
    for (const listener of this.emitter.listeners(type)) {
      try {
        (listener as (e: typeof event) => void)(event);
      } catch (err) {
        this.warn({ err, event: type }, "a consumer event listener threw");
      }
    }
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
    if (this.slots < this.run$.partitionsConsumedConcurrently) {
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

export function toMessage(record: StoredRecord, offset: number): PortConsumedMessage {
  const headers: PortHeaders = {};
  for (const [k, v] of record.headers) addHeader(headers, k, v);
  return {
    key: record.key,
    value: record.value,
    timestamp: String(record.timestamp),
    attributes: 0,
    offset: String(offset),
    headers,
  };
}
