import {
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type AdminConfig,
  type KafkaConfig,
  type Producer,
  type ProducerConfig,
} from "kafkajs";
import { backoffMs, sleep, type Backoff } from "../../core/backoff";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { encodedProducer } from "./encoded-producer";
import { installRequestQueueTimer } from "./request-queue-timer";
import { isTransient } from "./transient-errors";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

/** Start-up notices that do not apply: Weft picks its partitioner and retries on purpose. */
const QUIET = [
  "KafkaJS v2.0.0 switched default partitioner",
  "Limiting retries for the idempotent producer",
];

const RETRIED = ["another concurrent operation on the same transaction", "coordinator is loading"];

/** A kafkajs client whose logs go to pino (warnings and errors only: kafkajs is chatty). */
export function createKafka(config: WeftConfig, logger: Logger, clientId = config.clientId): Kafka {
  const log = logger.child({ component: "kafka" });
  return new WeftKafka(
    {
      clientId,
      brokers: [...config.kafkaBrokers],
      logLevel: KafkaLogLevel.WARN,
      // Retries never more than a second apart, for about 17 s: a broker's loss takes Kafka a
      // session timeout (6–9 s) to notice and a leader election to repair, and a client that
      // backed off exponentially to 6–12 s between tries would find the repair long after it
      // happened (measured: history resumed 12 s after a broker kill instead of 7).
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 20 },
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          if (QUIET.some((q) => message.startsWith(q))) return;
          // Retried at once and expected between back-to-back transactions: not an error.
          const routine = RETRIED.some(
            (r) => message.includes(r) || String(rest.error ?? "").includes(r),
          );
          log[routine ? "debug" : (LEVELS[level] ?? "info")](rest, message);
        },
    },
    { encodedProduce: config.encodedProduce },
  );
}

/** What the admin asks again is asked for as long as kafkajs retries other requests (above). */
const PATIENCE_MS = 17_000;
const AGAIN: Backoff = { initialMs: 50, maxMs: 1000, jitter: 0.2 };
const DISCONNECTED = "the Kafka admin is disconnected";

/**
 * kafkajs's client, with an admin that rides out a leader or coordinator moving for the two
 * reads Weft's roles make of it on their paths: a topic's ends and a group's offsets; and
 * idempotent producers that encode their own batches (see the constructor).
 *
 * kafkajs's `fetchTopicOffsets` gives up at once on a ListOffsets answered NOT_LEADER, and its
 * `fetchOffsets` on any error, a coordinator still loading its groups included. A single broker
 * answers NOT_LEADER for up to a second after it named a new topic's leaders in its metadata
 * (measured: every one of 48 partitions asked then), after a leader moves the admin's metadata
 * stays stale for five minutes, and a broker restarted after a kill loads its groups for
 * seconds. So a role's first read of a fresh topic's ends failed, a dashboard's stats
 * subscription begun then ended with an error, and a check of a run's commands failed while a
 * coordinator loaded. Asked again here through a fresh admin, which reads fresh metadata as it
 * connects.
 */
export class WeftKafka extends Kafka {
  private readonly encodedProduce: boolean;

  /**
   * `encodedProduce` (default on): an idempotent producer that is not transactional encodes
   * and sends its records itself (encoded-producer.ts) rather than through kafkajs's encoders.
   */
  constructor(config: KafkaConfig, options: { encodedProduce?: boolean } = {}) {
    installRequestQueueTimer();
    super(config);
    this.encodedProduce = options.encodedProduce ?? true;
  }

  override producer(config?: ProducerConfig): Producer {
    const own = super.producer(config);
    if (!this.encodedProduce || !config?.idempotent || config.transactionalId !== undefined)
      return own;
    const encoded = encodedProducer(this, own);
    if (!encoded) return own;
    return {
      ...own,
      connect: () => encoded.connect(),
      disconnect: () => encoded.disconnect(),
      send: (record) => encoded.send(record),
      sendBatch: (batch) => encoded.sendBatch(batch),
    };
  }

  override admin(config?: AdminConfig): Admin {
    const own = super.admin(config);
    const reads = new RenewedReads(own, () => super.admin(config));
    return {
      ...own,
      fetchTopicOffsets: (topic) => reads.ask((a) => a.fetchTopicOffsets(topic)),
      fetchOffsets: (options) => reads.ask((a) => a.fetchOffsets(options)),
      connect: async () => {
        // kafkajs lets an admin connect again after a disconnect; so do its reads.
        reads.reopen();
        await own.connect();
      },
      disconnect: async () => {
        await reads.close();
        await own.disconnect();
      },
    };
  }
}

/**
 * The two reads, through the admin that last answered them: the caller's, until a transient
 * error; then a fresh one, kept once it answers (its metadata is the fresh one), so that the
 * calls after it do not each meet the stale metadata again.
 */
class RenewedReads {
  private current: Admin;
  /** Fresh admins connecting or reading, not yet kept. */
  private readonly renewing = new Set<Admin>();
  private closed = false;

  constructor(
    private readonly own: Admin,
    private readonly fresh: () => Admin,
  ) {
    this.current = own;
  }

  async ask<T>(read: (admin: Admin) => Promise<T>): Promise<T> {
    // kafkajs's admin connects again by itself for a read after its disconnect, and nothing
    // would close that connection.
    if (this.closed) throw new Error(DISCONNECTED);
    const deadline = Date.now() + PATIENCE_MS;
    for (let failures = 1; ; failures++) {
      try {
        return await (failures === 1 ? read(this.current) : this.renewed(read));
      } catch (err) {
        const delay = backoffMs(AGAIN, failures);
        if (!isTransient(err) || Date.now() + delay > deadline) throw err;
        await sleep(delay);
      }
    }
  }

  /** Takes reads again after `close` (the admin connected again). */
  reopen(): void {
    this.closed = false;
  }

  /**
   * Disconnects the renewed admin and any still connecting. A renewal that ends after this
   * disconnects its own admin: kept, it would hold a connection nobody closes, and the
   * process could not exit.
   */
  async close(): Promise<void> {
    this.closed = true;
    const renewed = this.current;
    this.current = this.own;
    const admins = [...this.renewing];
    if (renewed !== this.own) admins.push(renewed);
    this.renewing.clear();
    await Promise.all(admins.map((admin) => admin.disconnect().catch(() => undefined)));
  }

  private async renewed<T>(read: (admin: Admin) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(DISCONNECTED);
    const admin = this.fresh();
    this.renewing.add(admin);
    let answer: T;
    try {
      await admin.connect();
      answer = await read(admin);
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      throw err;
    } finally {
      this.renewing.delete(admin);
    }
    if (this.closed) {
      // Closed while it connected: its connections may have opened after close's disconnect.
      await admin.disconnect().catch(() => undefined);
      return answer;
    }
    const before = this.current;
    this.current = admin;
    if (before !== this.own) await before.disconnect().catch(() => undefined);
    return answer;
  }
}
