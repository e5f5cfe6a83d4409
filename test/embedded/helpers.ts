import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";
import type { WeftClient } from "../../sdk/client";
import { startEmbedded } from "../../sdk/embedded";
import { EmbeddedKafka } from "../../adapters/embedded";
import type {
  PortConsumedMessage,
  PortConsumer,
  PortConsumerRunConfig,
  PortGroupJoinEvent,
} from "../../transport/port";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../../workflow/definitions";
import { testLogger } from "../support/env";

/** A fresh directory for one test's log, removed by `cleanup()`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "weft-embedded-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openLog(dir: string): Promise<EmbeddedKafka> {
  return EmbeddedKafka.open({ directory: dir, sync: "never" });
}

export interface Collected {
  consumer: PortConsumer;
  messages: (PortConsumedMessage & { partition: number })[];
  joins: PortGroupJoinEvent["payload"][];
}

/** A consumer of `topic` in `groupId` that keeps every message it gets. */
export async function collect(
  kafka: EmbeddedKafka,
  topic: string,
  groupId: string,
  run: Omit<PortConsumerRunConfig, "eachBatch"> = {},
): Promise<Collected> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 20 });
  const out: Collected = { consumer, messages: [], joins: [] };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => out.joins.push(payload));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    ...run,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) out.messages.push({ ...m, partition: batch.partition });
      await Promise.resolve();
    },
  });
  return out;
}

export function values(messages: readonly PortConsumedMessage[]): string[] {
  return messages.map((m) => m.value?.toString() ?? "");
}

/**
 * An embedded Weft (no read models, no fsync) on `dir` with a client: what the scenarios shared
 * with the Kafka tests start for each "process" of theirs; `stop` closes both.
 */
export async function embeddedClient(
  dir: string,
  config: WeftConfig,
  workflows: readonly AnyWorkflowDefinition[],
  steps: readonly AnyStepDefinition[],
): Promise<{ client: WeftClient; stop(): Promise<void> }> {
  const weft = await startEmbedded({
    dir,
    workflows,
    steps,
    database: false,
    sync: "never",
    config,
    logger: testLogger(config),
  });
  const client = await weft.connectClient();
  return {
    client,
    async stop() {
      await client.close();
      await weft.stop();
    },
  };
}
