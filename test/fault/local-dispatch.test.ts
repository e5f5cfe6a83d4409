/**
 * The local path of a process that runs a decider and a worker (config.localDispatch): the
 * worker runs the tasks its decider commits at once and reports to it directly. Nothing of
 * the invariants may depend on it:
 * - the commits holding reports handed over directly fail: the reports go through Kafka
 *   instead, and each step's result is recorded once;
 * - a process killed with SIGKILL while its steps run: the other process takes its
 *   partitions and its tasks over, and every run completes with gapless histories;
 * - a decider whose partition another process took without its knowing (its producer fenced)
 *   takes no report as recorded that it did not commit.
 */
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import { FaultPoints } from "../../core/fault-points";
import { Decider } from "../../deciders/decider";
import { WeftClient } from "../../sdk/client";
import { Worker } from "../../workers/worker";
import { serverBackends } from "../../adapters/server-backends";
import { defineStep, defineWorkflow } from "../../sdk";
import { closeFixtures, echo, slowStep, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count, expectEachStepCompletedOnce, expectGapless } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { metricsOf, metricValue } from "../support/metrics-page";
import { freePort } from "../support/tcp-proxy";
import { kafkaFor } from "../support/weft";

afterAll(closeFixtures);

/** Steps that wait for the test's go, so that their reports come in while it arms faults. */
let running = 0;
let go: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (go = resolve));
const gated = defineStep("gated", async (input: { i: number }) => {
  running++;
  await gate;
  return { i: input.i };
});
const gatedFlow = defineWorkflow("gatedFlow", async (ctx, input: { i: number }) => {
  const { i } = await ctx.step(gated, input);
  return ctx.step<{ i: number }>(echo, { i: i + 1 });
});

it("records each result once when the commits holding reports handed over directly fail", async () => {
  const config = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
  const logger = testLogger(config);
  const kafka = kafkaFor(config);
  const faults = new FaultPoints();
  const decisionLog = kafkaDecisionLog(kafka, config);
  const decider = new Decider({
    config,
    kafka,
    decisionLog,
    logger,
    workflows: [gatedFlow],
    faults,
  });
  const leases = serverBackends(config, logger, { transport: kafka });
  const worker = new Worker({
    config,
    kafka,
    logger,
    leases: leases.stepLeases,
    steps: [gated, echo],
    localDecider: decider,
  });
  decider.onTasksCommitted((work) => worker.offer(work));
  await decider.start();
  await decider.ready();
  await worker.start();
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  const sum = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
    (await metric.get()).values.reduce((n, v) => n + v.value, 0);
  try {
    // More than half the worker's 32 slots: a task's record read from Kafka while the same
    // attempt runs here waits for that run outside the pool, so the copies cannot fill it
    // before every first step got a slot (test/embedded/task-consumer-local.test.ts).
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => client.start(gatedFlow, { input: { i } })),
    );
    await waitFor("every run's first step to run", () => running === runs.length);
    expect(await sum(worker.metrics.localTasks)).toBeGreaterThan(0);
    // The next commits hold the results the steps are about to report to the decider
    // directly: they fail, each dropping its partition's state and reopening, and the
    // reports waiting on them go through Kafka instead.
    const before = faults.hits("decider.commit");
    faults.fail("decider.commit", 3);
    go();
    for (const { workflowId } of runs) {
      await client.result(workflowId, { timeoutMs: 60_000 });
      const history = await client.getHistory(workflowId);
      expectGapless(history);
      expectEachStepCompletedOnce(history);
      expect(count(history, "StepCompleted")).toBe(2);
      expect(count(history, "WorkflowCompleted")).toBe(1);
    }
    expect(faults.hits("decider.commit") - before).toBeGreaterThan(3);
    expect(await sum(decider.metrics.localCommands)).toBeGreaterThan(0);
  } finally {
    await client.close();
    await worker.stop();
    await decider.stop();
    await leases.close();
  }
});

it("sends a report through Kafka when its decider lost the partition without knowing it", async () => {
  const config = isolatedConfig({ commandPartitions: 1, taskPartitions: 1 });
  const kafka = kafkaFor(config);
  const decisionLog = kafkaDecisionLog(kafka, config);
  const decider = new Decider({
    config,
    kafka,
    decisionLog,
    logger: testLogger(config),
    workflows: [gatedFlow],
  });
  await decider.start();
  await decider.ready();
  const report = (workflowId: string) => ({
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "ReportStepCompleted" as const,
      stepSeq: 1,
      attempt: 1,
      workerId: "w-1",
      result: "{}",
    },
  });
  // Another process takes the partition over (its group session outlived this one's): its
  // open fences this decider's producer, and this decider has not been told yet.
  const next = decisionLog.writer(`${config.topicPrefix}.decider.p0`);
  try {
    await next.connect();
    // The new owner started this run; this decider has never seen it, so deciding the report
    // writes nothing here. Taken as recorded, the worker would mark the attempt done and
    // the run would wait for ever (a chaos run stranded two runs so).
    expect(await decider.submit(report("started-by-the-new-owner"))).toBe(false);
  } finally {
    await next.disconnect();
    await decider.stop();
  }
});

it("loses nothing when a process running both roles is killed while its steps run", async () => {
  const config = isolatedConfig();
  const kafka = kafkaFor(config);
  const logger = testLogger(config);
  const ports = [await freePort(), await freePort()];
  const processes: RoleProcess[] = [];
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  try {
    for (const port of ports)
      processes.push(
        await spawnRoles(config, "decider,worker", {
          WEFT_METRICS_PORT: String(port),
          WEFT_LEASE_MS: "3000",
        }),
      );
    const markKey = `${config.topicPrefix}:marks:slow`;
    const runs = [
      ...(await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          client.start(slowStep, { input: { ms: 2500, markKey: `${markKey}:${i}` } }),
        ),
      )),
      ...(await Promise.all(
        Array.from({ length: 60 }, (_, i) => client.start(threeSteps, { input: { n: i } })),
      )),
    ];
    // Both processes took tasks their own decider committed, before the kill.
    await waitFor("each process to run tasks handed over by its decider", async () => {
      const pages = await Promise.all(ports.map(metricsOf));
      return pages.every((p) => metricValue(p, "weft_step_tasks_local_total") > 0);
    });
    const [victim] = processes;
    await victim!.kill9();

    for (const { workflowId } of runs) {
      await client.result(workflowId, { timeoutMs: 90_000 });
      const history = await client.getHistory(workflowId);
      expectGapless(history);
      expectEachStepCompletedOnce(history);
      expect(count(history, "WorkflowCompleted")).toBe(1);
    }
    const survivor = await metricsOf(ports[1]!);
    expect(metricValue(survivor, "weft_decider_local_commands_total")).toBeGreaterThan(0);
  } finally {
    await client.close();
    await Promise.all(processes.map((p) => p.kill9()));
  }
});
