/**
 * A step result that cannot be reported for a while is reported once it can: the worker keeps
 * trying (it used to give up after 5 tries, leaving the task uncommitted and, with no
 * rebalance to deliver it again, the run waiting forever). The `worker.report` fault point
 * makes the first result reports fail more often than the old limit; the run completes, each
 * step body ran once, and the worker's group never rebalanced.
 */
import { serverBackends, type ProcessBackends } from "../../adapters/server-backends";
import { topics } from "../../core/config";
import { FaultPoints } from "../../core/fault-points";
import { defineStep, defineWorkflow } from "../../sdk";
import type { KafkaPort } from "../../transport/port";
import { Worker } from "../../workers";
import { isolatedConfig, testLogger } from "../support/env";
import { count, expectGapless } from "../support/history";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

/** More than the 5 tries a report used to get. */
const FAILED_REPORTS = 7;

const config = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
const bodies: string[] = [];
const counted = defineStep("reportRetryCounted", (input: { n: number }) => {
  bodies.push(`n=${input.n}`);
  return { n: input.n + 1 };
});
const twoSteps = defineWorkflow("reportRetryTwoSteps", async (ctx, input: { n: number }) => {
  const a = await ctx.step(counted, input);
  return ctx.step(counted, a);
});

let weft: TestWeft;
let worker: Worker;
let backends: ProcessBackends | undefined;
const faults = new FaultPoints().fail("worker.report", FAILED_REPORTS);
let taskGroupJoins = 0;

beforeAll(async () => {
  weft = await startTestWeft(config, {
    roles: ["decider"],
    workflows: [twoSteps],
    steps: [counted],
  });
  const kafka = kafkaFor(config);
  // Counts the task group's joins: a rebalance would show as a second one.
  const transport: KafkaPort = {
    producer: (c) => kafka.producer(c),
    admin: () => kafka.admin(),
    consumer: (c) => {
      const consumer = kafka.consumer(c);
      if (c.groupId === topics.workerGroup(config, "default"))
        consumer.on(consumer.events.GROUP_JOIN, () => (taskGroupJoins += 1));
      return consumer;
    },
  };
  backends = serverBackends(config, testLogger(config), { transport });
  worker = new Worker({
    config,
    steps: [counted],
    logger: testLogger(config),
    kafka: transport,
    leases: backends.stepLeases,
    faults,
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await backends?.close();
  await weft?.stop();
});

it("reports a result after more failed tries than the old limit; the run completes with no rebalance", async () => {
  const { workflowId } = await weft.client.start(twoSteps, { input: { n: 1 } });
  const result = await weft.client.result<{ n: number }>(workflowId, { timeoutMs: 60_000 });
  expect(result).toEqual({ n: 3 });
  // Every refused try and then one per step that went through.
  expect(faults.hits("worker.report")).toBe(FAILED_REPORTS + 2);
  // Each body ran once: the result was kept and sent, not the step run again.
  expect(bodies).toEqual(["n=1", "n=2"]);
  const history = await weft.client.getHistory(workflowId);
  expectGapless(history);
  expect(count(history, "StepCompleted")).toBe(2);
  expect(taskGroupJoins).toBe(1);
});
