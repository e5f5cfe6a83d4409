import { Kafka, logLevel as KafkaLogLevel } from "kafkajs";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";

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
  return new Kafka({
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
