import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { KafkaPort, PortDecisionLog } from "../transport/port";
import { kafkaDecisionLog } from "./kafka/decision-log";
import type { StepLeaseStore } from "../workers/lease-store";
import type { Backends } from "./backends";
import { createKafka } from "./kafka/client";
import { readSideParts, type ReadSideParts } from "./read-side-backends";
import { ConnectedRedisStepLeases } from "./redis/connected-step-leases";

/** Every part a process's roles run on, chosen. */
export interface ProcessBackends {
  readonly transport: KafkaPort;
  readonly decisionLog: PortDecisionLog;
  readonly stepLeases: StepLeaseStore;
  readonly readSide: ReadSideParts;
  /** True when `stepLeases` was given rather than made here (e.g. embedded mode's). */
  readonly leasesGiven: boolean;
  /** Closes what was made here; what was given is its maker's to close. */
  close(): Promise<void>;
}

/**
 * The server adapter set, over whatever of it is `given` (`{ transport }` alone swaps the
 * transport and keeps Redis and PostgreSQL): a kafkajs client of `KAFKA_BROKERS`; step leases
 * and done-markers in Redis at `REDIS_URL`, connected when a worker starts; the read models at
 * `DATABASE_URL` with the Redis migration lock and a Redis live emitter per role.
 */
export function serverBackends(
  config: WeftConfig,
  logger: Logger,
  given?: Backends,
): ProcessBackends {
  let made: ConnectedRedisStepLeases | undefined;
  const stepLeases = given?.stepLeases ?? (made = new ConnectedRedisStepLeases(config, logger));
  const transport = given?.transport ?? createKafka(config, logger);
  return {
    transport,
    decisionLog: given?.decisionLog ?? kafkaDecisionLog(transport, config),
    stepLeases,
    readSide: readSideParts(config, logger, given?.readSide),
    leasesGiven: made === undefined,
    close: async () => {
      await made?.close();
    },
  };
}
