/**
 * Follows weft.history live (read_committed) while the run goes on: which runs are open, and
 * which signal waits began with what deadline, so the load can time its signals against them.
 * The verdict never rests on this tail: the checks read the topics afresh after the run.
 */
import { randomUUID } from "node:crypto";
import type { Consumer, Kafka } from "kafkajs";
import { historyCodec } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";
import { TERMINAL_EVENT_TYPES } from "../schemas/types";

export class HistoryTail {
  private consumer: Consumer | undefined;
  private stopped = false;
  private readonly seen = new Set<string>();
  /** Runs with a WorkflowStarted and no closing event yet. */
  readonly open = new Set<string>();
  readonly closed = new Set<string>();
  /** Events seen (each event once, however often the tail re-reads). */
  events = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly onEvent: (event: HistoryEvent) => void,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    const consumer = this.kafka.consumer({
      groupId: `${this.topic}.chaos-tail.${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    // A crash kafkajs does not restart by itself: start a fresh consumer.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped) return;
      this.log(`history tail crashed (${String(payload.error)}); starting it again`);
      void consumer
        .disconnect()
        .catch(() => undefined)
        .then(() => new Promise((r) => setTimeout(r, 1000)))
        .then(() => this.start())
        .catch((err: unknown) => this.log(`history tail could not restart: ${String(err)}`));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      eachBatch: async (payload) => {
        const { batch } = payload;
        for (const message of batch.messages) {
          const key = `${batch.partition}:${message.offset}`;
          if (this.seen.has(key)) continue;
          this.seen.add(key);
          const event = historyCodec.decode(message.value, message.headers);
          this.events++;
          if (event.body.type === "WorkflowStarted" && !this.closed.has(event.workflowId)) {
            this.open.add(event.workflowId);
          } else if (TERMINAL_EVENT_TYPES.has(event.body.type)) {
            this.open.delete(event.workflowId);
            this.closed.add(event.workflowId);
          }
          this.onEvent(event);
        }
        await payload.heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
