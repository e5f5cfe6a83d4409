import { hostname } from "node:os";
import { ConfigError } from "./errors";

/** Connection and topology settings shared by every role. Validated once, then frozen. */
export interface WeftConfig {
  readonly kafkaBrokers: readonly string[];
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Topic names start with this prefix: `<prefix>.commands`, `<prefix>.history`, … */
  readonly topicPrefix: string;
  readonly commandPartitions: number;
  readonly taskPartitions: number;
  /**
   * Replicas of each topic Weft creates. Unset: min(3, brokers in the cluster), so a cluster of
   * three or more brokers survives one broker's loss (with `min.insync.replicas` 2).
   */
  readonly replicationFactor: number | undefined;
  /**
   * How long the group waits for a silent decider before its partitions move. Lower is faster
   * failover after a crash; the broker's `group.min.session.timeout.ms` bounds it from below.
   */
  readonly deciderSessionTimeoutMs: number;
  readonly logLevel: string;
  readonly clientId: string;
  /**
   * How long a decider gathers commands before committing a transaction. A few ms makes
   * transactions larger and fewer: the broker's cost per transaction dominates under load.
   */
  readonly deciderLingerMs: number;
  /**
   * Where a process runs both a decider and a worker on Kafka: the worker runs the tasks the
   * decider commits for task partitions it holds at once, and reports to that decider
   * directly when it owns the run, instead of each going through its topic first. Off, each
   * role talks to the other through Kafka only, as separate processes do.
   */
  readonly localDispatch: boolean;
  /**
   * On Kafka, a decider commits each decision with its own pipelined transactional producer
   * (three round trips of requests sent side by side); off, with kafkajs's producer, which
   * sends them one after another. The embedded log has one kind of transaction.
   */
  readonly pipelinedCommit: boolean;
  /**
   * On Kafka, commands and step reports are encoded by Weft's own idempotent producer, one
   * buffer a partition's batch; off, by kafkajs's producer, an encoder per record and header.
   */
  readonly encodedProduce: boolean;
  /**
   * The Kafka transaction protocol of the pipelined producer: "auto" takes the second
   * (KIP-890: no AddPartitionsToTxn or AddOffsetsToTxn, two round trips a commit) where the
   * cluster speaks it, 1 or 2 asks for one.
   */
  readonly kafkaTransactionVersion: "auto" | 1 | 2;
  /**
   * Live executions a decider keeps per partition; others are rebuilt by replaying their
   * history on their next event. 0 replays every run from scratch at every step (a test mode
   * that proves replay).
   */
  readonly executionCacheSize: number;
  /**
   * How often a decider or worker process publishes its registration (what it hosts, its
   * queues, its load). The API counts a process as stale after three intervals without one.
   */
  readonly registrationIntervalMs: number;
  /**
   * A projector partition that has not applied its next batch for this long (failing all the
   * while, or one batch running that long) makes the projector not ready on /readyz.
   */
  readonly projectorStallMs: number;
  /**
   * How long `<prefix>.step-logs` keeps the step logs (`step.log.*`) on the log; the read models
   * keep them until `weft replay projections`, which rebuilds only what the topic still holds.
   */
  readonly stepLogRetentionMs: number;
  /**
   * How long `<prefix>.history` keeps its events, set when Weft creates the topic; -1 (the
   * default): for ever. Deciders restore from the runs changelog and never read history back,
   * so a run's state does not depend on it; what does is listed in docs/operations.md
   * (rebuilding the read models, the client's `result` of an old run, exporting a history).
   */
  readonly historyRetentionMs: number;
  /**
   * How long a closed run's workflow ID (or idempotency key) keeps deduplicating starts, as a
   * Temporal namespace's retention does: within it, a start with the ID is a duplicate unless
   * its idReusePolicy allows a new run; after it, the ID starts a new run. -1: for ever.
   * The decider keeps 16 bytes per closed run within it.
   */
  readonly dedupeRetentionMs: number;
  /**
   * When set, a process serves its metrics at `http://127.0.0.1:<port>/metrics` (the api role
   * serves them on its own port regardless). 0 picks a free port.
   */
  readonly metricsPort: number | undefined;
  /**
   * How long a command's sender (the API's mutations, the client) waits for Kafka to
   * acknowledge it before answering NOT_ACKNOWLEDGED. A broker that is restarting or frozen
   * can hold an acks=all produce for half a minute or more; the caller hears within this
   * bound instead, and sends again with the same workflow ID or request ID, which Weft
   * records once. The send itself goes on: the command may still be written.
   */
  readonly commandAckTimeoutMs: number;
}

export const DEFAULTS = {
  kafkaBrokers: "127.0.0.1:9092",
  redisUrl: "redis://127.0.0.1:63799",
  databaseUrl: "postgres://weft:weft@127.0.0.1:54329/weft",
  topicPrefix: "weft",
  commandPartitions: 4,
  taskPartitions: 4,
  deciderSessionTimeoutMs: 3000,
  logLevel: "info",
  // No wait by default: commands that arrive while a commit is in flight go in the next one
  // anyway, and a burst comes in whole fetches. Side by side (bench:peers, two rounds each),
  // 3 ms of linger cost start → first step p50 3 ms and gained no throughput.
  deciderLingerMs: 0,
  localDispatch: true,
  pipelinedCommit: true,
  encodedProduce: true,
  kafkaTransactionVersion: "auto",
  executionCacheSize: 10_000,
  registrationIntervalMs: 10_000,
  projectorStallMs: 30_000,
  stepLogRetentionMs: 7 * 24 * 3_600_000,
  historyRetentionMs: -1,
  dedupeRetentionMs: 7 * 24 * 3_600_000,
  commandAckTimeoutMs: 10_000,
} as const;

export type ConfigInput = Partial<Omit<WeftConfig, "kafkaBrokers">> & {
  kafkaBrokers?: readonly string[] | string;
};

/** Reads `KAFKA_BROKERS`, `REDIS_URL`, `DATABASE_URL`, `WEFT_*`; explicit options win. */
export function loadConfig(
  options: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): WeftConfig {
  const brokers = options.kafkaBrokers ?? env.KAFKA_BROKERS ?? DEFAULTS.kafkaBrokers;
  const config: WeftConfig = {
    kafkaBrokers: (typeof brokers === "string" ? brokers.split(",") : [...brokers])
      .map((b) => b.trim())
      .filter(Boolean),
    redisUrl: options.redisUrl ?? env.REDIS_URL ?? DEFAULTS.redisUrl,
    databaseUrl: options.databaseUrl ?? env.DATABASE_URL ?? DEFAULTS.databaseUrl,
    topicPrefix: options.topicPrefix ?? env.WEFT_TOPIC_PREFIX ?? DEFAULTS.topicPrefix,
    commandPartitions: intOption(
      "commandPartitions / WEFT_COMMAND_PARTITIONS",
      options.commandPartitions ?? env.WEFT_COMMAND_PARTITIONS,
      DEFAULTS.commandPartitions,
    ),
    taskPartitions: intOption(
      "taskPartitions / WEFT_TASK_PARTITIONS",
      options.taskPartitions ?? env.WEFT_TASK_PARTITIONS,
      DEFAULTS.taskPartitions,
    ),
    replicationFactor: optionalInt(
      "replicationFactor / WEFT_REPLICATION_FACTOR",
      options.replicationFactor ?? env.WEFT_REPLICATION_FACTOR,
      1,
      100,
    ),
    deciderSessionTimeoutMs: intOption(
      "deciderSessionTimeoutMs / WEFT_DECIDER_SESSION_TIMEOUT_MS",
      options.deciderSessionTimeoutMs ?? env.WEFT_DECIDER_SESSION_TIMEOUT_MS,
      DEFAULTS.deciderSessionTimeoutMs,
      1000,
      300_000,
    ),
    logLevel: options.logLevel ?? env.WEFT_LOG_LEVEL ?? DEFAULTS.logLevel,
    deciderLingerMs: intOption(
      "deciderLingerMs / WEFT_DECIDER_LINGER_MS",
      options.deciderLingerMs ?? env.WEFT_DECIDER_LINGER_MS,
      DEFAULTS.deciderLingerMs,
      0,
    ),
    localDispatch: boolOption(
      "localDispatch / WEFT_LOCAL_DISPATCH",
      options.localDispatch ?? env.WEFT_LOCAL_DISPATCH,
      DEFAULTS.localDispatch,
    ),
    pipelinedCommit: boolOption(
      "pipelinedCommit / WEFT_PIPELINED_COMMIT",
      options.pipelinedCommit ?? env.WEFT_PIPELINED_COMMIT,
      DEFAULTS.pipelinedCommit,
    ),
    encodedProduce: boolOption(
      "encodedProduce / WEFT_ENCODED_PRODUCE",
      options.encodedProduce ?? env.WEFT_ENCODED_PRODUCE,
      DEFAULTS.encodedProduce,
    ),
    kafkaTransactionVersion: transactionVersion(
      options.kafkaTransactionVersion ?? env.WEFT_KAFKA_TRANSACTION_VERSION,
    ),
    executionCacheSize: intOption(
      "executionCacheSize / WEFT_EXECUTION_CACHE_SIZE",
      options.executionCacheSize ?? env.WEFT_EXECUTION_CACHE_SIZE,
      DEFAULTS.executionCacheSize,
      0,
      10_000_000,
    ),
    registrationIntervalMs: intOption(
      "registrationIntervalMs / WEFT_REGISTRATION_INTERVAL_MS",
      options.registrationIntervalMs ?? env.WEFT_REGISTRATION_INTERVAL_MS,
      DEFAULTS.registrationIntervalMs,
      50,
      3_600_000,
    ),
    projectorStallMs: intOption(
      "projectorStallMs / WEFT_PROJECTOR_STALL_MS",
      options.projectorStallMs ?? env.WEFT_PROJECTOR_STALL_MS,
      DEFAULTS.projectorStallMs,
      100,
      3_600_000,
    ),
    stepLogRetentionMs: intOption(
      "stepLogRetentionMs / WEFT_STEP_LOG_RETENTION_MS",
      options.stepLogRetentionMs ?? env.WEFT_STEP_LOG_RETENTION_MS,
      DEFAULTS.stepLogRetentionMs,
      60_000,
      10 * 365 * 24 * 3_600_000,
    ),
    historyRetentionMs: historyRetention(
      options.historyRetentionMs ?? env.WEFT_HISTORY_RETENTION_MS,
    ),
    dedupeRetentionMs: dedupeRetention(options.dedupeRetentionMs ?? env.WEFT_DEDUPE_RETENTION_MS),
    metricsPort: optionalPort(
      "metricsPort / WEFT_METRICS_PORT",
      options.metricsPort ?? env.WEFT_METRICS_PORT,
    ),
    commandAckTimeoutMs: intOption(
      "commandAckTimeoutMs / WEFT_COMMAND_ACK_TIMEOUT_MS",
      options.commandAckTimeoutMs ?? env.WEFT_COMMAND_ACK_TIMEOUT_MS,
      DEFAULTS.commandAckTimeoutMs,
      100,
      600_000,
    ),
    clientId: options.clientId ?? `weft-${hostname()}-${process.pid}`,
  };
  if (
    config.kafkaBrokers.length === 0 ||
    config.kafkaBrokers.some((b) => !/^[^:\s]+:\d+$/.test(b))
  ) {
    throw new ConfigError(
      `KAFKA_BROKERS must be a comma-separated list of host:port, got ${JSON.stringify(brokers)}`,
    );
  }
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(config.topicPrefix)) {
    throw new ConfigError(
      `WEFT_TOPIC_PREFIX must be 1–100 characters of [A-Za-z0-9._-], got ${JSON.stringify(config.topicPrefix)}`,
    );
  }
  return Object.freeze(config);
}

/** A config made by loadConfig is used as it is; anything else is loaded and validated. */
export function resolveConfig(input: WeftConfig | ConfigInput | undefined): WeftConfig {
  return isLoadedConfig(input) ? input : loadConfig(input);
}

function isLoadedConfig(value: unknown): value is WeftConfig {
  return (
    typeof value === "object" && value !== null && Object.isFrozen(value) && "kafkaBrokers" in value
  );
}

function boolOption(name: string, raw: unknown, fallback: boolean): boolean {
  if (raw === undefined || raw === "") return fallback;
  if (typeof raw === "boolean") return raw;
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw new ConfigError(`${name} must be true or false (1 or 0), got ${JSON.stringify(raw)}`);
}

function transactionVersion(raw: unknown): "auto" | 1 | 2 {
  if (raw === undefined || raw === "" || raw === "auto") return DEFAULTS.kafkaTransactionVersion;
  if (raw === 1 || raw === "1") return 1;
  if (raw === 2 || raw === "2") return 2;
  throw new ConfigError(
    `kafkaTransactionVersion / WEFT_KAFKA_TRANSACTION_VERSION must be auto, 1 or 2, got ${JSON.stringify(raw)}`,
  );
}

function intOption(name: string, raw: unknown, fallback: number, min = 1, max = 10_000): number {
  if (raw === undefined || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** -1 (for ever), or at least a day: a shorter audit log would lose runs that are still open. */
function historyRetention(raw: unknown): number {
  const name = "historyRetentionMs / WEFT_HISTORY_RETENTION_MS";
  if (raw === -1 || raw === "-1") return -1;
  return intOption(name, raw, DEFAULTS.historyRetentionMs, DAY_MS, 100 * 365 * DAY_MS);
}

const DAY_MS = 24 * 3_600_000;

/** -1 (for ever), or from a second to a hundred years. */
function dedupeRetention(raw: unknown): number {
  const name = "dedupeRetentionMs / WEFT_DEDUPE_RETENTION_MS";
  if (raw === -1 || raw === "-1") return -1;
  return intOption(name, raw, DEFAULTS.dedupeRetentionMs, 1_000, 100 * 365 * DAY_MS);
}

function optionalPort(name: string, raw: unknown): number | undefined {
  return optionalInt(name, raw, 0, 65_535);
}

function optionalInt(name: string, raw: unknown, min: number, max: number): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  return intOption(name, raw, min, min, max);
}

export const topics = {
  commands: (c: WeftConfig) => `${c.topicPrefix}.commands`,
  history: (c: WeftConfig) => `${c.topicPrefix}.history`,
  /** The deciders' compacted changelog of open runs (see deciders/run-changelog.ts). */
  changelog: (c: WeftConfig) => `${c.topicPrefix}.runs`,
  tasks: (c: WeftConfig, queue: string) => `${c.topicPrefix}.tasks.${queue}`,
  dlq: (c: WeftConfig) => `${c.topicPrefix}.dlq`,
  /** Step logs (`step.log.*`): one record per attempt that logged, kept out of history. */
  stepLogs: (c: WeftConfig) => `${c.topicPrefix}.step-logs`,
  /** What each decider and worker process hosts, published on start, every interval and on stop. */
  registrations: (c: WeftConfig) => `${c.topicPrefix}.registrations`,
  deciderGroup: (c: WeftConfig) => `${c.topicPrefix}.deciders`,
  workerGroup: (c: WeftConfig, queue: string) => `${c.topicPrefix}.workers.${queue}`,
};
