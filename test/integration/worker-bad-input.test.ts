/**
 * Invariant 10 on the worker side, against the real broker and Redis: an undecodable task goes
 * to the DLQ with its reason, a task for a step no worker hosts fails for good with
 * UNKNOWN_STEP, and the worker keeps running steps.
 */
import { Partitioners } from "kafkajs";
import { topics } from "../../core/config";
import { WorkflowFailedError } from "../../core/errors";
import { DEFAULT_TASK_QUEUE } from "../../deciders/registry";
import { defineWorkflow } from "../../sdk";
import { deadLetterCodec } from "../../schemas/codec";
import { closeFixtures, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { eventsOf } from "../support/history";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const callsUnhostedStep = defineWorkflow("callsUnhostedStep", async (ctx) =>
  ctx.step("noSuchStep", {}, { retry: { maximumAttempts: 3 } }),
);
const config = isolatedConfig();
let weft: TestWeft;

beforeAll(async () => {
  weft = await startTestWeft(config, { workflows: [threeSteps, callsUnhostedStep], steps });
});

afterAll(async () => {
  await weft.stop();
  await closeFixtures();
});

it("fails a step no worker hosts for good, with UNKNOWN_STEP", async () => {
  const { workflowId } = await weft.client.start(callsUnhostedStep);
  await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
    WorkflowFailedError,
  );
  const failed = eventsOf(await weft.client.getHistory(workflowId), "StepFailed");
  expect(failed.map((e) => [e.body.attempt, e.body.willRetry, e.body.error.code])).toEqual([
    [1, false, "UNKNOWN_STEP"],
  ]);
  // Counted as a failed attempt; it never started, so it has no run time.
  const attempts = await weft.runtime.worker!.metrics.attempts.get();
  expect(attempts.values.find((v) => v.labels.step === "noSuchStep")).toMatchObject({
    labels: { queue: DEFAULT_TASK_QUEUE, outcome: "failed" },
    value: 1,
  });
});

it("sends an undecodable task to the DLQ and keeps running steps", async () => {
  const kafka = kafkaFor(config);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({
    topic: topics.tasks(config, DEFAULT_TASK_QUEUE),
    messages: [{ key: "poison-task", value: Buffer.from("not a task") }],
  });
  await producer.disconnect();

  const dead: { key: string; reason: string; topic: string }[] = [];
  const consumer = kafka.consumer({ groupId: `${config.topicPrefix}.dlq-check` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.dlq(config), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const letter = deadLetterCodec.decode(message.value, message.headers);
      dead.push({
        key: letter.key?.toString() ?? "",
        reason: letter.reason,
        topic: letter.sourceTopic,
      });
      await Promise.resolve();
    },
  });
  await waitFor("the dead letter", () => dead.length >= 1);
  await consumer.disconnect();
  expect(dead[0]).toMatchObject({
    key: "poison-task",
    topic: topics.tasks(config, DEFAULT_TASK_QUEUE),
  });
  expect(dead[0]!.reason).toMatch(/weft.tasks.StepTask/);
  // One counter for the process, shared by its decider and worker.
  const dlqCount = async () =>
    (await weft.runtime.worker!.metrics.deadLetters.get()).values[0]?.value;
  await waitFor("the DLQ counter", async () => (await dlqCount()) === 1, 5000);
  expect(weft.runtime.decider!.metrics.deadLetters).toBe(weft.runtime.worker!.metrics.deadLetters);

  const { workflowId } = await weft.client.start(threeSteps, { input: { n: 5 } });
  expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ n: 8 });
});
