/**
 * Triggers in embedded mode: a Kafka trigger reads its topic from the embedded log (one run per
 * record, the unmappable in the DLQ, nothing again after a restart on the same directory), and
 * webhooks are served by the embedded API, as on Kafka.
 */
import { startEmbedded, type EmbeddedWeft } from "../../sdk/embedded";
import { EmbeddedKafka } from "../../adapters/embedded";
import type { WeftClient } from "../../sdk/client";
import { closeFixtures, steps, workflows } from "../fixtures/workflows";
import { ordersTrigger, webhookTriggers } from "../fixtures/triggers";
import { tempDir } from "../embedded/helpers";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count } from "../support/history";
import { followTopic, topics, triggerCommands, triggerDeadLetters } from "./topic-records";
import { webhookScenarios } from "./webhook-scenario";

const config = isolatedConfig();
const topic = "shop.orders";
const { dir, cleanup } = tempDir();
let weft: EmbeddedWeft;
let client: WeftClient;

async function start(): Promise<void> {
  weft = await startEmbedded({
    dir,
    workflows,
    steps,
    triggers: [ordersTrigger(topic), ...webhookTriggers],
    sync: "never",
    config,
    logger: testLogger(config),
    api: { port: 0 },
  });
  client = await weft.connectClient();
}

async function stop(): Promise<void> {
  await client?.close();
  await weft?.stop();
}

beforeAll(async () => {
  // The user's topic exists before the trigger starts, as on a broker.
  const log = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  const admin = log.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  await admin.disconnect();
  await log.close();
  await start();
});

afterAll(async () => {
  await stop();
  await closeFixtures();
  cleanup();
});

async function produce(from: number, to: number): Promise<void> {
  const producer = weft.backends.transport.producer({ idempotent: true });
  await producer.connect();
  const messages = [];
  for (let i = from; i < to; i++) {
    messages.push(
      i % 5 === 4
        ? { key: `k${i}`, value: i % 2 === 0 ? "{ not json" : JSON.stringify({ n: i }) }
        : { key: `k${i}`, value: JSON.stringify({ orderId: `e${i}`, n: i }) },
    );
  }
  await producer.send({ topic, messages });
  await producer.disconnect();
}

const goodOf = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => from + k).filter((i) => i % 5 !== 4);

it("turns each record of a topic on the embedded log into one run, across a restart", async () => {
  await produce(0, 20);
  for (const i of goodOf(0, 20))
    expect(await client.result(`order-e${i}`, { timeoutMs: 30_000 })).toEqual({ n: i + 3 });
  await stop();
  await start();
  await produce(20, 30);
  for (const i of goodOf(20, 30))
    expect(await client.result(`order-e${i}`, { timeoutMs: 30_000 })).toEqual({ n: i + 3 });

  const commands = await followTopic(weft.backends.transport, topics.commands(config));
  const dlq = await followTopic(weft.backends.transport, topics.dlq(config));
  try {
    const letters = await waitFor("the dead letters", () => {
      const found = triggerDeadLetters(dlq, config, "orders");
      return found.length >= 6 && found;
    });
    // Every start the trigger made is in the log by now; the reader may still be on its way.
    const expected = goodOf(0, 30).length;
    await waitFor("the reader to reach the starts", () => {
      return triggerCommands(commands, "orders").length >= expected;
    });
    const starts = triggerCommands(commands, "orders");
    expect(starts.map((c) => c.workflowId).sort()).toEqual(
      goodOf(0, 30)
        .map((i) => `order-e${i}`)
        .sort(),
    );
    expect(letters.map((l) => l.key?.toString()).sort()).toEqual(
      ["k4", "k9", "k14", "k19", "k24", "k29"].sort(),
    );
    for (const i of goodOf(0, 30))
      expect(count(await client.getHistory(`order-e${i}`), "WorkflowStarted")).toBe(1);
  } finally {
    await commands.stop();
    await dlq.stop();
  }
});

webhookScenarios(() => ({ server: weft.api!.server, client }));
