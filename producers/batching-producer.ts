import type { Message, Producer } from "kafkajs";

interface Queued {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * kafkajs sends one request per `send` call; this collects what callers send within
 * `lingerMs` (or up to `maxBatch` records) into one request, and settles each caller's promise
 * when the broker acknowledged its record.
 */
export class BatchingProducer {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(
    private readonly producer: Producer,
    private readonly lingerMs = 1,
    private readonly maxBatch = 500,
  ) {}

  send(topic: string, message: Message): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flushSoon(0);
      else this.flushSoon(this.lingerMs);
    });
  }

  /** Resolves when everything sent so far was acknowledged or failed. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      if (this.queue.length > 0) await this.drain();
      else await new Promise((r) => setTimeout(r, 2));
    }
  }

  private flushSoon(delay: number): void {
    if (this.timer && delay > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delay);
  }

  private async drain(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      const list = byTopic.get(q.topic) ?? [];
      list.push(q.message);
      byTopic.set(q.topic, list);
    }
    this.inFlight++;
    try {
      await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const q of batch) q.resolve();
    } catch (err) {
      for (const q of batch) q.reject(err);
    } finally {
      this.inFlight--;
    }
  }
}
