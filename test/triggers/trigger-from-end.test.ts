/**
 * A Kafka trigger told not to read its topic from the beginning (`fromBeginning: false`), on
 * both logs: a new trigger's group starts at the topic's end, so the records written before it
 * first ran never make a run, and every record written since makes its start command.
 */
import type { WeftConfig } from "../../core/config";
import { topics } from "../../core/config";
import { createLogger } from "../../core/logger";
import { EmbeddedKafka } from "../../adapters/embedded";
import { embeddedDecisionLog } from "../../adapters/embedded/decision-log";
import { createKafka } from "../../adapters/kafka/client";
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import { defineTrigger } from "../../triggers/definition";
import { KafkaTrigger } from "../../triggers/kafka-trigger";
import { TriggerCounters } from "../../triggers/trigger-counters";
import { createTopicsWithLeaders, ensureTopics, withAdmin } from "../../transport/topics";
import type { KafkaPort, PortDecisionLog } from "../../transport/port";
import { tempDir } from "../embedded/helpers";
import { threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { followTopic, triggerCommands } from "./topic-records";

const logger = createLogger("silent");
const OLD = 5;

async function scenario(kafka: KafkaPort, decisionLog: PortDecisionLog, config: WeftConfig) {
  const topic = `${config.topicPrefix}.late-orders`;
  await withAdmin(kafka, async (admin) => {
    await ensureTopics(admin, config);
    await createTopicsWithLeaders(admin, [{ topic, numPartitions: 2 }]);
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = (i: number, partition: number) =>
    producer.send({
      topic,
      messages: [{ key: `k${i}`, value: JSON.stringify({ orderId: `o${i}` }), partition }],
    });
  for (let i = 0; i < OLD; i++) await send(i, i % 2);

  const trigger = new KafkaTrigger({
    kafka,
    decisionLog,
    config,
    logger,
    trigger: defineTrigger("late-orders", {
      kafka: { topic, fromBeginning: false },
      action: "start",
      workflow: threeSteps,
      workflowId: { field: "orderId" },
      map: () => ({ n: 1 }),
    }),
    counters: new TriggerCounters(),
  });
  const commands = await followTopic(kafka, topics.commands(config));
  await trigger.start();
  try {
    // The trigger opens each partition at its end some time after it joined: records are
    // written, one partition after the other, until one of each has come through.
    const seen = (i: number) =>
      triggerCommands(commands, "late-orders").some((c) => c.workflowId === `o${i}`);
    let next = OLD;
    const through = new Set<number>();
    for (let tries = 0; through.size < 2 && tries < 200; tries++) {
      const partition = next % 2;
      await send(next, partition);
      const i = next++;
      const came = await waitFor(`record ${i}`, () => seen(i), 1000).catch(() => false);
      if (came) through.add(partition);
    }
    expect(through.size).toBe(2);
    const starts = triggerCommands(commands, "late-orders").map((c) => c.workflowId);
    expect(starts.filter((id) => Number(id.slice(1)) < OLD)).toEqual([]);
    // Once through, nothing after it is skipped.
    const last = next;
    for (let i = last; i < last + 4; i++) await send(i, i % 2);
    await waitFor("the records after", () => [0, 1, 2, 3].every((k) => seen(last + k)));
  } finally {
    await trigger.stop();
    await commands.stop();
    await producer.disconnect();
  }
}

it("on Kafka, a new trigger reading from the end makes no run of the records before it", async () => {
  const config = isolatedConfig();
  const kafka = createKafka(config, logger);
  await scenario(kafka, kafkaDecisionLog(kafka, config), config);
}, 120_000);

it("on the embedded log, a new trigger reading from the end makes no run of the records before it", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  try {
    await scenario(kafka, embeddedDecisionLog(kafka), isolatedConfig());
  } finally {
    await kafka.close();
    cleanup();
  }
}, 60_000);
