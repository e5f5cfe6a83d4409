import { Kafka, logLevel as KafkaLogLevel, type Admin, type AdminConfig } from "kafkajs";
import { backoffMs, sleep, type Backoff } from "../../core/backoff";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { whileLeaderMoves } from "./leader-errors";

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
  return new WeftKafka({
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
  });
}

/** A topic's ends are asked again for as long as kafkajs retries other requests (above). */
const ENDS_PATIENCE_MS = 17_000;
const ENDS_BACKOFF: Backoff = { initialMs: 50, maxMs: 1000, jitter: 0.2 };

/** kafkajs's client, with an admin whose `fetchTopicOffsets` rides out a leader's placing. */
class WeftKafka extends Kafka {
  override admin(config?: AdminConfig): Admin {
    const admin = super.admin(config);
    const fresh = () => super.admin(config);
    return { ...admin, fetchTopicOffsets: (topic) => topicEnds(admin, fresh, topic) };
  }
}

/**
 * kafkajs's `fetchTopicOffsets` gives up at once on a ListOffsets answered NOT_LEADER (and on
 * a broker it cannot reach). A single broker answers so for up to a second after it named a
 * new topic's leaders in its metadata (measured: every one of 48 partitions asked then), and
 * after a leader moves the admin's metadata stays stale for five minutes. So each role that
 * read a fresh topic's ends failed its first read, and a dashboard's stats subscription ended
 * with an error. Asked again here, through a fresh admin each time, which reads fresh
 * metadata as it connects.
 */
async function topicEnds(admin: Admin, fresh: () => Admin, topic: string) {
  const deadline = Date.now() + ENDS_PATIENCE_MS;
  for (let failures = 1; ; failures++) {
    try {
      return await (failures === 1 ? admin.fetchTopicOffsets(topic) : askFresh(fresh(), topic));
    } catch (err) {
      const delay = backoffMs(ENDS_BACKOFF, failures);
      if (!whileLeaderMoves(err) || Date.now() + delay > deadline) throw err;
      await sleep(delay);
    }
  }
}

async function askFresh(admin: Admin, topic: string) {
  await admin.connect();
  try {
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
