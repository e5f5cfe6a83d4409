import { randomUUID } from "node:crypto";
import type { KafkaPort, PortAdmin, PortConsumer, PortTopicOffsets } from "./port";
import { backoffMs, DEPENDENCY_BACKOFF, sleep } from "../core/backoff";
import { isUnrecoverable } from "../core/errors";
import type { Logger } from "../core/logger";
import { historyCodec } from "../schemas/codec";
import { readerConsumer } from "./topics";
import { WrittenEnd } from "./written-end";
import type { HistoryEvent } from "../schemas/types";

type Listener = (event: HistoryEvent) => void;

/** One read of the partitions' ends, shared by the catchUp calls that joined it. */
interface EndsRead {
  /** The latest of its callers' deadlines: it asks again while a broker is away until then. */
  deadline: number;
  ends: Promise<PortTopicOffsets[]>;
}

/**
 * Follows every partition of `weft.history` from the beginning (read_committed) and keeps the
 * events per run in memory: what the client and the tests use to wait for results and read
 * histories. The read-side projections are the scalable way to query runs.
 */
export class HistoryTail {
  private readonly runs = new Map<string, HistoryEvent[]>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly position = new Map<number, bigint>();
  private consumer: PortConsumer | undefined;
  private admin: PortAdmin | undefined;
  private adminConnected: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private readonly written: WrittenEnd;
  /** catchUp calls waiting for the position to reach the ends they read. */
  private readonly readWaiters = new Set<() => void>();
  /** The read of the partitions' ends out now, and the one queued to start after it. */
  private endsOut: EndsRead | undefined;
  private endsQueued: EndsRead | undefined;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly topic: string,
    private readonly log: Logger,
  ) {
    this.written = new WrittenEnd(kafka, topic, () => this.connectedAdmin());
  }

  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  events(workflowId: string): readonly HistoryEvent[] {
    return this.runs.get(workflowId) ?? [];
  }

  get workflowIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Calls `listener` for each event of the run, past and future; returns an unsubscribe. */
  subscribe(workflowId: string, listener: Listener): () => void {
    for (const e of this.events(workflowId)) listener(e);
    const set = this.listeners.get(workflowId) ?? new Set();
    set.add(listener);
    this.listeners.set(workflowId, set);
    return () => set.delete(listener);
  }

  /**
   * The offset the tail reads next on a partition: every decided record below it has been
   * read (and every committed one delivered).
   */
  readTo(partition: number): bigint {
    return this.position.get(partition) ?? 0n;
  }

  /**
   * Where the partition ends now counting records of transactions not yet decided (see
   * transport/written-end.ts): once `readTo` reaches it, all of them have been read or dropped.
   */
  async writtenEnd(partition: number): Promise<bigint> {
    await this.start();
    return this.written.of(partition);
  }

  /** One admin for the tail's life: callers ask for histories in loops. */
  private async connectedAdmin(): Promise<PortAdmin> {
    this.admin ??= this.kafka.admin();
    this.adminConnected ??= this.admin.connect();
    await this.adminConnected;
    return this.admin;
  }

  /** Resolves when everything committed to history before this call has been read. */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    await this.start();
    const deadline = Date.now() + timeoutMs;
    const targets = (await this.endsAfterNow(deadline)).map((o) => ({
      partition: o.partition,
      high: BigInt(o.high),
    }));
    const reached = () => targets.every((t) => (this.position.get(t.partition) ?? 0n) >= t.high);
    if (reached()) return;
    await new Promise<void>((resolve, reject) => {
      const waiter = () => {
        if (!reached()) return;
        clearTimeout(timer);
        this.readWaiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readWaiters.delete(waiter);
        reject(new Error(`history tail did not catch up within ${timeoutMs} ms`));
      }, deadline - Date.now());
      this.readWaiters.add(waiter);
    });
  }

  /**
   * The partitions' ends as read after this call began. The read out now may have asked
   * before it, so the call joins the read queued to start next: a client waiting on thousands
   * of results asks a few times, not once each (an ask is two ListOffsets requests, work for
   * the broker too).
   */
  private endsAfterNow(deadline: number): Promise<PortTopicOffsets[]> {
    if (!this.endsQueued) {
      const read: EndsRead = { deadline, ends: Promise.resolve([]) };
      const before = this.endsOut?.ends.catch(() => undefined);
      read.ends = (async () => {
        await before;
        this.endsQueued = undefined;
        this.endsOut = read;
        try {
          return await this.endsBy(read);
        } finally {
          if (this.endsOut === read) this.endsOut = undefined;
        }
      })();
      this.endsQueued = read;
    }
    this.endsQueued.deadline = Math.max(this.endsQueued.deadline, deadline);
    return this.endsQueued.ends;
  }

  /**
   * The history partitions' ends, asked again until the read's deadline while a broker is
   * away: a partition whose leader was just lost answers NOT_LEADER or not at all until its new
   * leader is known (seen: every `result` of a client rejected at once after a broker's kill).
   */
  private async endsBy(read: { deadline: number }): Promise<PortTopicOffsets[]> {
    for (let failures = 1; ; failures++) {
      try {
        return await (await this.connectedAdmin()).fetchTopicOffsets(this.topic);
      } catch (err) {
        const delay = backoffMs(DEPENDENCY_BACKOFF, failures);
        if (isUnrecoverable(err) || Date.now() + delay > read.deadline) throw err;
        // A fresh admin asks fresh metadata: where the partitions' leaders are now.
        const admin = this.admin;
        this.admin = undefined;
        this.adminConnected = undefined;
        await admin?.disconnect().catch(() => undefined);
        await sleep(delay);
      }
    }
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.written.close();
    await this.admin?.disconnect();
    this.admin = undefined;
    this.adminConnected = undefined;
  }

  private async run(): Promise<void> {
    const groupId = `${this.topic}.tail.${randomUUID()}`;
    const consumer = readerConsumer(this.kafka, groupId);
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const next = BigInt(payload.lastOffset) + 1n;
      if (next <= (this.position.get(payload.partition) ?? 0n)) return;
      this.position.set(payload.partition, next);
      for (const waiter of this.readWaiters) waiter();
    });
    let joined: () => void = () => undefined;
    const hasJoined = new Promise<void>((resolve) => (joined = resolve));
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          let event: HistoryEvent;
          try {
            event = historyCodec.decode(message.value, message.headers);
          } catch (err) {
            this.log.error({ offset: message.offset, err }, "undecodable history record skipped");
            continue;
          }
          const list = this.runs.get(event.workflowId) ?? [];
          // A restarted consumer reads from the beginning again: keep each event once.
          if (list.length > 0 && event.seq <= list[list.length - 1]!.seq) continue;
          list.push(event);
          this.runs.set(event.workflowId, list);
          for (const listener of this.listeners.get(event.workflowId) ?? []) listener(event);
        }
        await Promise.resolve();
      },
    });
    await hasJoined;
  }
}
