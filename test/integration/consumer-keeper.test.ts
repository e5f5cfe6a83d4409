/**
 * A consumer that crashed in a way kafkajs does not restart from (`restart: false`) is
 * restarted by its ConsumerKeeper, shown as waiting for Kafka meanwhile, and consumes again.
 */
import { Readiness } from "../../core/readiness";
import { ConsumerKeeper } from "../../transport/consumer-keeper";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const kafka = kafkaFor(config);
const topic = `${config.topicPrefix}.keeper`;
const consumer = kafka.consumer({
  groupId: `${config.topicPrefix}.keeper`,
  sessionTimeout: 10_000,
  heartbeatInterval: 1000,
  maxWaitTimeInMs: 100,
});
const stopping = new AbortController();

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: "hello" }] });
  await producer.disconnect();
});

afterAll(async () => {
  stopping.abort();
  await consumer.disconnect();
});

it("restarts a consumer after a crash kafkajs will not restart from", async () => {
  const readiness = new Readiness();
  const seen: string[] = [];
  let poisoned = false;
  const keeper = new ConsumerKeeper({
    consumer,
    role: "test",
    what: "consume the keeper topic",
    log: testLogger(config),
    readiness,
    signal: stopping.signal,
    backoff: { initialMs: 100, maxMs: 500, jitter: 0 },
    start: async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          if (!poisoned) {
            poisoned = true;
            // kafkajs neither retries nor restarts after an error it is told is not retriable.
            throw Object.assign(new Error("not retriable, on purpose"), { retriable: false });
          }
          for (const m of batch.messages) seen.push(m.value?.toString() ?? "");
          return Promise.resolve();
        },
      });
    },
  });
  const crashes: { restart: boolean; missing: readonly string[] }[] = [];
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    crashes.push({ restart: payload.restart, missing: readiness.snapshot().missing });
  });

  await keeper.start();
  await waitFor("the crash", () => crashes.length > 0);
  expect(crashes[0]).toEqual({ restart: false, missing: ["kafka"] });

  await waitFor("the record consumed after the restart", () => seen.includes("hello"));
  expect(crashes).toHaveLength(1);
  expect(readiness.snapshot().waiting).toEqual([]);
  keeper.stop();
});
