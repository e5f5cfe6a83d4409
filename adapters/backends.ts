import type { ReadSideBackends } from "./read-side-backends";
import type { KafkaPort, PortDecisionLog } from "../transport/port";
import type { StepLeaseStore } from "../workers/lease-store";

/**
 * What a Weft process runs on: the adapters behind its ports. The roles (decider, worker,
 * projector, api) are the same modules whatever they are given.
 *
 * Two factories build them, and nothing else makes a client of Kafka or Redis for a role:
 * - servers (`serverBackends`, what `startRuntime` fills in for a part not given): Kafka,
 *   Redis and PostgreSQL from the config.
 * - embedded (`embeddedBackends`, `startEmbedded`): the embedded log in one directory, leases,
 *   the migration lock and live updates in the process, and the read-model database given.
 */
export interface Backends {
  /** Produced to and consumed from by every role: a kafkajs client or the embedded log. */
  readonly transport: KafkaPort;
  /**
   * The deciders' atomic commits and changelog reads over `transport`. Default: Kafka's
   * (Weft's pipelined producer on a kafkajs client, see `WEFT_PIPELINED_COMMIT`).
   */
  readonly decisionLog?: PortDecisionLog;
  /** Workers' leases and done-markers. Default: Redis at `REDIS_URL`. */
  readonly stepLeases?: StepLeaseStore;
  /** The projector's and API's database, migration lock, live emitter and Redis check. */
  readonly readSide?: ReadSideBackends;
  /** Whether the projector and api roles have a read-model database to use. */
  readonly hasDatabase?: boolean;
  /** Closes what the backends opened (called by whoever made them). */
  close?(): Promise<void>;
}
