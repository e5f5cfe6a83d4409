/**
 * Where `weft replay workflows` and `weft history export` read recorded history:
 *
 * - `kafka`: the `<prefix>.history` topic on KAFKA_BROKERS, read_committed (an aborted
 *   decision is never seen), from each partition's start to the end it had when the read began
 *   (transport/history-reader.ts, the reader the deciders restore with). One workflow ID's
 *   history is on one partition, the one its commands go to: an export reads that one only.
 * - `dir`: the embedded log of `weft dev --dir`, through the same reader on the embedded
 *   transport. The log belongs to one process at a time (its directory lock), so this works
 *   while nothing runs on the directory; with `weft dev` running, stop it first, or check
 *   files that `weft history export` wrote. Opening the log is what `weft dev` does at its start
 *   (a torn last frame is dropped, its bytes kept aside); nothing else is written.
 * - `files`: history files (testing/history-file.ts), in the order given.
 *
 * The read models are not a source: they hold what the projector got to, and the log is the
 * record they are derived from (DESIGN.md, invariant 8).
 */
import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { topics, type WeftConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import { historyCodec } from "../../schemas/codec";
import type { HistoryEvent } from "../../schemas/types";
import { readHistoryFile } from "../../testing/history-file";
import { EmbeddedKafka, EmbeddedLogError, LEGACY_LOG_FILE } from "../../adapters/embedded";
import { readPartitions } from "../../transport/history-reader";
import { createKafka } from "../../adapters/kafka/client";
import { withAdmin } from "../../transport/topics";
import { partitionCount, partitionForKey } from "../../transport/partitioning";
import type { KafkaPort } from "../../transport/port";

export type HistorySource =
  | { readonly kind: "kafka" }
  | { readonly kind: "dir"; readonly dir: string }
  | { readonly kind: "files"; readonly files: readonly string[] };

/** A read of a big topic may take long; it fails sooner when no record comes for a while. */
const READ_TIMEOUT_MS = 6 * 60 * 60 * 1000;
const READ_STALL_MS = 120_000;

/**
 * Calls `onEvent` for each recorded event of the source, each workflow ID's in seq order;
 * with `workflowId`, only that ID's (and, on Kafka or a log, only its partition is read).
 * Returns what was read, in words (`the topic weft.history on localhost:9092`).
 */
export async function readHistory(
  source: HistorySource,
  config: WeftConfig,
  logger: Logger,
  onEvent: (event: HistoryEvent) => void,
  workflowId?: string,
): Promise<string> {
  const deliver = (event: HistoryEvent) => {
    if (workflowId === undefined || event.workflowId === workflowId) onEvent(event);
  };
  if (source.kind === "files") {
    for (const file of source.files) for (const event of readHistoryFile(file)) deliver(event);
    return source.files.length === 1 ? source.files[0]! : `${source.files.length} files`;
  }
  if (source.kind === "kafka") {
    const kafka = createKafka(config, logger);
    const topic = topics.history(config);
    await readTopic(kafka, config, logger, deliver, workflowId);
    return `the topic ${topic} on ${config.kafkaBrokers.join(",")}`;
  }
  const kafka = await openLog(source.dir, logger);
  try {
    await readTopic(kafka, config, logger, deliver, workflowId);
  } finally {
    await kafka.close();
  }
  return `the embedded log in ${source.dir}`;
}

async function readTopic(
  kafka: KafkaPort,
  config: WeftConfig,
  logger: Logger,
  deliver: (event: HistoryEvent) => void,
  workflowId: string | undefined,
): Promise<void> {
  const topic = topics.history(config);
  const partitions = await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(topic)) {
      throw new ConfigError(
        `there is no topic ${topic} (WEFT_TOPIC_PREFIX is ${JSON.stringify(config.topicPrefix)}): nothing was recorded here yet, or the prefix differs`,
      );
    }
    if (workflowId !== undefined) {
      // The deciders write a run's history on the partition its commands are on.
      const commands = topics.commands(config);
      return [partitionForKey(commands, workflowId, await partitionCount(admin, commands))];
    }
    return (await admin.fetchTopicOffsets(topic)).map((o) => o.partition);
  });
  // readHistoryPartitions, with a stall watch instead of one short deadline for the whole read.
  await readPartitions(
    kafka,
    topic,
    partitions,
    (partition, message) => {
      let event: HistoryEvent;
      try {
        event = historyCodec.decode(message.value, message.headers);
      } catch (err) {
        logger.error({ partition, offset: message.offset, err }, "history record skipped");
        return;
      }
      deliver(event);
    },
    READ_TIMEOUT_MS,
    READ_STALL_MS,
  );
}

async function openLog(dir: string, logger: Logger): Promise<EmbeddedKafka> {
  const directory = resolve(dir);
  // Opening creates a missing log: a mistyped --dir must not look like an empty history.
  const hasLog =
    existsSync(directory) &&
    readdirSync(directory).some((f) => f === LEGACY_LOG_FILE || /^log-\d+\.wal$/.test(f));
  if (!hasLog) throw new ConfigError(`there is no embedded log in ${directory}`);
  try {
    return await EmbeddedKafka.open({ directory, logger });
  } catch (err) {
    if (err instanceof EmbeddedLogError && err.type === "DIRECTORY_LOCKED") {
      throw new ConfigError(
        `${err.message}. Reading the log needs its directory to itself: stop \`weft dev\` on it first`,
      );
    }
    throw err;
  }
}
