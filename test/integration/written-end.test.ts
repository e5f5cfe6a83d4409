/**
 * The history's written end against the real broker: while a transaction is open it counts the
 * transaction's records (the end a read_committed consumer is given stops before them), and the
 * history tail's position reaches it once the transaction commits, commit marker included. The
 * SDK client counts the deciders' committed offsets as applied only when that happens (see
 * transport/written-end.ts): were the position to stop short of the end, every wait for a run
 * started a moment ago would run out.
 */
import type { Kafka, Producer } from "kafkajs";
import { historyCodec } from "../../schemas/codec";
import type { HistoryEvent } from "../../schemas/types";
import { HistoryTail } from "../../transport/history-tail";
import type { KafkaPort } from "../../transport/port";
import { withAdmin } from "../../transport/topics";
import { WrittenEnd } from "../../transport/written-end";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const topic = `${config.topicPrefix}.written-end`;
let kafka: Kafka;
let producer: Producer;
let tail: HistoryTail;
let written: WrittenEnd;

const started = (workflowId: string, seq: number): HistoryEvent => ({
  workflowId,
  seq,
  at: Date.now(),
  body: {
    type: "WorkflowStarted",
    workflowType: "t",
    input: "null",
    idempotencyKey: null,
    requestId: `${workflowId}-${seq}`,
  },
});

const record = (event: HistoryEvent) => ({
  key: event.workflowId,
  partition: 0,
  value: historyCodec.encode(event),
  headers: { ...historyCodec.headers },
});

beforeAll(async () => {
  kafka = kafkaFor(config);
  await withAdmin(kafka, (admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] }),
  );
  producer = kafka.producer({
    transactionalId: `${topic}.writer`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  tail = new HistoryTail(kafka, topic, testLogger(config));
  written = new WrittenEnd(kafka, topic, () => Promise.reject(new Error("not embedded")));
});

afterAll(async () => {
  await producer?.disconnect();
  await tail?.close();
  await written?.close();
});

it("counts an open transaction's records, and the tail reaches it once they commit", async () => {
  const first = await producer.transaction();
  await first.send({ topic, messages: [record(started("a", 1)), record(started("b", 1))] });
  await first.commit();
  await tail.catchUp();

  const open = await producer.transaction();
  await open.send({ topic, messages: [record(started("c", 1))] });
  const end = await written.of(0);
  const stable = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  // Records 0-1, the commit marker at 2, the open transaction's record at 3.
  expect(end).toBe(4n);
  expect(BigInt(stable[0]!.high)).toBe(3n);
  expect(tail.readTo(0)).toBe(3n);
  expect(tail.events("c")).toEqual([]);

  await open.commit();
  await waitFor("the tail to read past the commit marker", () => tail.readTo(0) >= end);
  expect(tail.events("c").map((e) => e.seq)).toEqual([1]);
  // With nothing open the written end and the stable end agree, marker counted.
  const after = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  expect(await written.of(0)).toBe(BigInt(after[0]!.high));
  expect(tail.readTo(0)).toBe(BigInt(after[0]!.high));
});

it("an aborted transaction's records are passed over: the tail reaches the end without them", async () => {
  const aborted = await producer.transaction();
  await aborted.send({ topic, messages: [record(started("d", 1))] });
  const end = await written.of(0);
  await aborted.abort();
  await waitFor("the tail to read past the abort marker", () => tail.readTo(0) >= end);
  expect(tail.events("d")).toEqual([]);
});

it("has concurrent catchUps share reads of the ends, never one asked before the call", async () => {
  let asks = 0;
  let hold: Promise<void> | undefined;
  const counting: KafkaPort = {
    producer: (c) => kafka.producer(c),
    consumer: (c) => kafka.consumer(c),
    admin: () => {
      const admin = kafka.admin();
      const fetch = admin.fetchTopicOffsets.bind(admin);
      admin.fetchTopicOffsets = async (t: string) => {
        asks++;
        const ends = await fetch(t);
        await hold;
        return ends;
      };
      return admin;
    },
  };
  const shared = new HistoryTail(counting, topic, testLogger(config));
  try {
    await shared.catchUp();
    asks = 0;
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [record(started("e", 1))] });
    await tx.commit();
    // Five hundred waits on results at once ask for the ends once.
    await Promise.all(Array.from({ length: 500 }, () => shared.catchUp()));
    expect(asks).toBe(1);
    expect(shared.events("e").map((e) => e.seq)).toEqual([1]);

    // A call made while a read is out (its answer may predate the call) waits for the next.
    let release: () => void = () => undefined;
    hold = new Promise((resolve) => (release = resolve));
    const first = shared.catchUp();
    await waitFor("the first read to be out", () => asks === 2);
    const second = shared.catchUp();
    const third = shared.catchUp();
    release();
    await Promise.all([first, second, third]);
    expect(asks).toBe(3);
  } finally {
    await shared.close();
  }
});
