/**
 * A worker beside its decider reads the task partitions that decider covers quietly (paused,
 * read in a catch-up now and then: workers/quiet-fetch.ts), in processes as `weft start` runs
 * them. Nothing may wait on it or be lost:
 * - tasks the worker could not take when offered (every slot busy) run from their records;
 * - while tasks flow, every partition its decider covers is read quietly;
 * - a second process takes partitions over, so tasks of a partition read quietly in the
 *   first process come from the second's decider; then the first is killed with SIGKILL:
 *   every run completes, each step recorded once, histories gapless.
 */
import { WeftClient } from "../../sdk/client";
import { closeFixtures, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count, expectEachStepCompletedOnce, expectGapless } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { metricsOf, metricValue } from "../support/metrics-page";
import { freePort } from "../support/tcp-proxy";
import { kafkaFor } from "../support/weft";

afterAll(closeFixtures);

const QUIET = "weft_worker_quiet_task_partitions";
const LOCAL = "weft_step_tasks_local_total";

async function expectCompleted(client: WeftClient, workflowIds: readonly string[]): Promise<void> {
  for (const workflowId of workflowIds) {
    await client.result(workflowId, { timeoutMs: 90_000 });
    const history = await client.getHistory(workflowId);
    expectGapless(history);
    expectEachStepCompletedOnce(history);
    expect(count(history, "StepCompleted")).toBe(3);
    expect(count(history, "WorkflowCompleted")).toBe(1);
  }
}

it("runs from their records the tasks its worker could not take when offered", async () => {
  const config = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
  const kafka = kafkaFor(config);
  const logger = testLogger(config);
  const port = await freePort();
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  let process: RoleProcess | undefined;
  try {
    // Two slots for 40 runs at once: most offers find every slot busy.
    process = await spawnRoles(config, "decider,worker", {
      WEFT_METRICS_PORT: String(port),
      WEFT_WORKER_CONCURRENCY: "2",
    });
    const runs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.start(threeSteps, { input: { n: i } })),
    );
    await expectCompleted(
      client,
      runs.map((r) => r.workflowId),
    );
    const local = metricValue(await metricsOf(port), LOCAL);
    expect(local).toBeGreaterThan(0);
    expect(local).toBeLessThan(runs.length * 3);
  } finally {
    await client.close();
    await process?.kill9();
  }
});

it("loses nothing when a second process takes partitions over and the first is killed", async () => {
  const config = isolatedConfig();
  const kafka = kafkaFor(config);
  const client = await WeftClient.connect({ config, logger: testLogger(config), transport: kafka });
  const processes: { role: RoleProcess; port: number }[] = [];
  const spawnBoth = async () => {
    const port = await freePort();
    const role = await spawnRoles(config, "decider,worker", { WEFT_METRICS_PORT: String(port) });
    processes.push({ role, port });
    return port;
  };
  const start = (from: number, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => client.start(threeSteps, { input: { n: from + i } })),
    );
  try {
    const firstPort = await spawnBoth();
    // Runs started while the test watches: a partition is quiet between catch-ups while its
    // tasks flow, and fetches as usual once they stop.
    const first: { workflowId: string }[] = [];
    await waitFor("the first process to read its four task partitions quietly", async () => {
      first.push(...(await start(first.length, 5)));
      return metricValue(await metricsOf(firstPort), QUIET) === 4;
    });
    const secondPort = await spawnBoth();
    const second = await start(1000, 40);
    await waitFor("the second process to run tasks its decider handed over", async () => {
      return metricValue(await metricsOf(secondPort), LOCAL) > 0;
    });
    await processes[0]!.role.kill9();
    const third = await start(2000, 20);
    await expectCompleted(
      client,
      [...first, ...second, ...third].map((r) => r.workflowId),
    );
  } finally {
    await client.close();
    await Promise.all(processes.map(({ role }) => role.kill9()));
  }
});
