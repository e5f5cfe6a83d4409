import type { PortMessage, PortProducer } from "../transport/port";

interface Queued {
  message: PortMessage;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One partition's queue: at most one request in flight, so records keep their order. */
interface Lane {
  topic: string;
  queue: Queued[];
  inFlight: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Collects what callers send within `lingerMs` into one request per partition, and settles
 * each caller's promise when the broker acknowledged its record.
 *
 * Every request carries ONE partition. kafkajs 2.2.4 retries a multi-partition request by
 * broker: when a partition's leader moves to a broker that already answered for other
 * partitions, that partition's records are silently dropped, and a retry while another
 * broker's request is in flight sends duplicates (kafkajs #1303). A single-partition request
 * has one leader, so neither can happen.
 */
export class BatchingProducer {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly producer: PortProducer,
    private readonly lingerMs = 1,
    private readonly maxBatch = 500,
  ) {}

  /** `message.partition` must be set: see the class comment. */
  send(topic: string, message: PortMessage & { partition: number }): Promise<void> {
    const key = `${topic}\u0000${message.partition}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { topic, queue: [], inFlight: false, timer: undefined };
      this.lanes.set(key, lane);
    }
    const target = lane;
    return new Promise<void>((resolve, reject) => {
      target.queue.push({ message, resolve, reject });
      this.schedule(target, target.queue.length >= this.maxBatch ? 0 : this.lingerMs);
    });
  }

  /** Resolves when everything sent so far was acknowledged or failed. */
  async flush(): Promise<void> {
    const busy = () => [...this.lanes.values()].some((l) => l.inFlight || l.queue.length > 0);
    while (busy()) {
      for (const lane of this.lanes.values()) if (!lane.inFlight) void this.drain(lane);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private schedule(lane: Lane, delay: number): void {
    if (lane.timer && delay > 0) return;
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      void this.drain(lane);
    }, delay);
  }

  private async drain(lane: Lane): Promise<void> {
    if (lane.inFlight || lane.queue.length === 0) return;
    const batch = lane.queue.splice(0, this.maxBatch);
    lane.inFlight = true;
    try {
      await this.producer.sendBatch({
        topicMessages: [{ topic: lane.topic, messages: batch.map((q) => q.message) }],
      });
      for (const q of batch) q.resolve();
    } catch (err) {
      for (const q of batch) q.reject(err);
    } finally {
      lane.inFlight = false;
    }
    if (lane.queue.length > 0) void this.drain(lane);
  }
}
