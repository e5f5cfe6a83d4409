/**
 * A Kafka trigger under a real crash: the process that runs it (and the decider) is killed with
 * SIGKILL while orders still arrive on the user's topic; another process takes over. Every
 * order makes exactly one run, the trigger committed exactly one start command per order (its
 * aborted transactions are never seen), and every record that maps to nothing is in the DLQ
 * exactly once, with the reason.
 */
import { Partitioners, type Producer } from "kafkajs";
import { topics } from "../../core/config";
import { commandCodec, deadLetterCodec } from "../../schemas/codec";
import type { Command, DeadLetter } from "../../schemas/types";
import { readTopic } from "../../chaos/topic-reader";
import { createTopicsWithLeaders } from "../../transport/topics";
import { closeFixtures, steps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { count, expectGapless } from "../support/history";
import { explainedBy, spawnRoles, type RoleProcess } from "../support/processes";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
const topic = `${config.topicPrefix}.orders`;
const kafka = kafkaFor(config);
let weft: TestWeft;
let producer: Producer;
const children: RoleProcess[] = [];

/** Order i: every tenth record (i % 10 === 5) maps to nothing, three ways. */
function record(i: number): { key: string; value: string } {
  if (i % 10 !== 5) return { key: `k${i}`, value: JSON.stringify({ orderId: `o${i}`, n: i }) };
  const bad = [
    "{ not json",
    JSON.stringify({ n: i }), // no orderId
    JSON.stringify({ orderId: `o${i}`, n: "many" }), // map refuses it
  ];
  return { key: `k${i}`, value: bad[Math.floor(i / 10) % 3]! };
}
const ORDERS = 90;
const good = Array.from({ length: ORDERS }, (_, i) => i).filter((i) => i % 10 !== 5);
const bad = Array.from({ length: ORDERS }, (_, i) => i).filter((i) => i % 10 === 5);

async function produce(from: number, to: number): Promise<void> {
  // Small sends, so the trigger commits many transactions while the kill lands.
  for (let i = from; i < to; i += 3) {
    const messages = [];
    for (let j = i; j < Math.min(to, i + 3); j++) messages.push(record(j));
    await producer.send({ topic, messages });
  }
}

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: 3 }]);
  await admin.disconnect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  weft = await startTestWeft(config, { roles: ["worker"], steps });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill9()));
  await producer.disconnect();
  await weft.stop();
  await closeFixtures();
});

it("makes one run per record across a kill -9 of the trigger's process, and dead-letters the unmappable once", async () => {
  const first = await spawnRoles(config, "decider,trigger", { WEFT_TRIGGER_TOPIC: topic });
  children.push(first);
  await explainedBy(children, async () => {
    await produce(0, 30);
    // Some orders are runs already: the trigger is mid-stream when it dies.
    await waitFor("the first orders to start", async () => {
      for (const i of [0, 1, 2]) {
        if ((await weft.client.getHistory(`order-o${i}`)).length === 0) return false;
      }
      return true;
    });
    const rest = produce(30, ORDERS);
    await first.kill9();
    await rest;
    const second = await spawnRoles(config, "decider,trigger", { WEFT_TRIGGER_TOPIC: topic });
    children.push(second);

    const results = await Promise.all(
      good.map((i) => weft.client.result(`order-o${i}`, { timeoutMs: 90_000 })),
    );
    expect(results).toEqual(good.map((i) => ({ n: i + 3 })));
    for (const i of good) {
      const history = await weft.client.getHistory(`order-o${i}`);
      expectGapless(history);
      expect(count(history, "WorkflowStarted")).toBe(1);
    }
    // Drains what it consumed, so the topics below hold all it will ever commit.
    await second.stop();
  });

  const starts: Command[] = [];
  const commandsRead = await readTopic(kafka, topics.commands(config), (r) => {
    const command = commandCodec.decode(r.value, r.headers);
    if (command.body.type === "StartWorkflow" && command.body.requestId.startsWith("trigger/"))
      starts.push(command);
  });
  expect(commandsRead.incomplete).toEqual([]);
  // One committed start per order: the transactions the kill cut short were aborted.
  expect(starts.map((c) => c.workflowId).sort()).toEqual(good.map((i) => `order-o${i}`).sort());
  expect(new Set(starts.map((c) => (c.body as { requestId: string }).requestId)).size).toBe(
    good.length,
  );

  const letters: DeadLetter[] = [];
  const dlqRead = await readTopic(kafka, topics.dlq(config), (r) => {
    const letter = deadLetterCodec.decode(r.value, r.headers);
    if (letter.sourceTopic === topic) letters.push(letter);
  });
  expect(dlqRead.incomplete).toEqual([]);
  expect(letters.map((l) => l.key?.toString()).sort()).toEqual(bad.map((i) => `k${i}`).sort());
  expect(new Set(letters.map((l) => `${l.partition}/${l.offset}`)).size).toBe(bad.length);
  for (const letter of letters) {
    expect(letter.consumer).toBe(`${config.topicPrefix}.trigger.orders`);
    expect(letter.reason).toMatch(/^UNMAPPABLE_INPUT: /);
  }
  expect(letters.map((l) => l.reason).join("\n")).toMatch(/not JSON/);
  expect(letters.map((l) => l.reason).join("\n")).toMatch(/field orderId/);
  expect(letters.map((l) => l.reason).join("\n")).toMatch(/n must be a number/);
});
