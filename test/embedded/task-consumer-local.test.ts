/**
 * A task record whose attempt already runs in the process (the decider there handed the task
 * over before its record came) takes no slot of the worker's pool while it waits for that run.
 * Here the pool has two slots: the attempt running here holds one and waits on a second task.
 * Had the record of the running attempt taken the other slot, the second task would never
 * get one, and neither would end.
 */
import { loadConfig, topics } from "../../core/config";
import { taskCodec } from "../../schemas/codec";
import type { StepTask } from "../../schemas/types";
import type { EmbeddedKafka } from "../../adapters/embedded";
import { SlotPool } from "../../workers/slot-pool";
import { TaskConsumer } from "../../workers/task-consumer";
import { testLogger, waitFor } from "../support/env";
import { openLog, tempDir } from "./helpers";

const task = (workflowId: string): StepTask => ({
  workflowId,
  workflowType: "flow",
  stepSeq: 2,
  stepName: "step",
  attempt: 1,
  input: "null",
  idempotencyKey: `${workflowId}/2`,
  timeoutMs: null,
  dispatchedAt: Date.now(),
  heartbeatTimeoutMs: null,
  lastHeartbeatDetails: null,
});

let kafka: EmbeddedKafka;
let cleanup: () => void;

beforeEach(async () => {
  const made = tempDir();
  cleanup = made.cleanup;
  kafka = await openLog(made.dir);
});

afterEach(async () => {
  await kafka.close();
  cleanup();
});

it("waits for an attempt running here outside the pool", async () => {
  const config = loadConfig({ topicPrefix: "local", taskPartitions: 1, logLevel: "warn" });
  const topic = topics.tasks(config, "default");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();

  const pool = new SlotPool(2);
  const stopping = new AbortController();
  // The attempt of run "a" runs here, in a slot, until run "b"'s task has run.
  let bRan: () => void = () => undefined;
  const runHere = new Promise<void>((resolve) => (bRan = resolve));
  pool.run(() => runHere);
  const ran: string[] = [];
  const consumer = new TaskConsumer({
    kafka,
    config,
    queue: "default",
    pool,
    log: testLogger(config),
    stopping: stopping.signal,
    runTask: async (t) => {
      ran.push(t.workflowId);
      if (t.workflowId === "b") bRan();
      // As the step runner does with a delivery of an attempt running here.
      if (t.workflowId === "a") await runHere;
      return true;
    },
    runningHere: (key) => (key === "a/2" ? runHere : undefined),
    deadLetter: () => Promise.resolve(true),
  });
  await consumer.start();
  try {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: ["a", "b"].map((id) => ({
        key: `${id}/2`,
        value: taskCodec.encode(task(id)),
        headers: { ...taskCodec.headers },
        partition: 0,
      })),
    });
    await producer.disconnect();

    await waitFor("both records to run", () => ran.length === 2);
    // "b" first: the record of "a" waited for the run here outside the pool, and ran after.
    expect(ran).toEqual(["b", "a"]);
  } finally {
    stopping.abort();
    await consumer.stop();
  }
});
