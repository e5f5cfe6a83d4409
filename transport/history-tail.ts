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
    const targets = (await this.endsBy(deadline)).map((o) => ({
      partition: o.partition,
      high: BigInt(o.high),
    }));
    while (targets.some((t) => (this.position.get(t.partition) ?? 0n) < t.high)) {
      if (Date.now() > deadline)
        throw new Error(`history tail did not catch up within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * The history partitions' ends, asked again until `deadline` while a broker is away: a
   * partition whose leader was just lost answers NOT_LEADER or not at all until its new leader
   * is known (seen: every `result` of a client rejected at once after a broker's kill).
   */
  private async endsBy(deadline: number): Promise<PortTopicOffsets[]> {
    for (let failures = 1; ; failures++) {
      try {
        return await (await this.connectedAdmin()).fetchTopicOffsets(this.topic);
      } catch (err) {
        const delay = backoffMs(DEPENDENCY_BACKOFF, failures);
        if (isUnrecoverable(err) || Date.now() + delay > deadline) throw err;
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
      if (next > (this.position.get(payload.partition) ?? 0n))
        this.position.set(payload.partition, next);
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
