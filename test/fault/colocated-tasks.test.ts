/**
 * Several processes that each run a decider and a worker (`weft start --processes N`): each
 * worker asks its task group for the partitions its own decider writes tasks to, so that the
 * tasks a decider commits run in its process at once (config.localDispatch) rather than in
 * another's after the trip through Kafka. As processes start, one is killed with SIGKILL and
 * another joins, the two groups' assignments line up process by process; the runs started
 * meanwhile run every task beside the decider that wrote it, and complete with each step's
 * result recorded once.
 */
import { hostname } from "node:os";
import { topics, type WeftConfig } from "../../core/config";
import { DEFAULT_TASK_QUEUE } from "../../deciders/registry";
import { WeftClient } from "../../sdk/client";
import { closeFixtures, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { groupMembers } from "../support/groups";
import { count, expectEachStepCompletedOnce, expectGapless } from "../support/history";
import { metricsOf, metricValue } from "../support/metrics-page";
import { explainedBy, spawnRoles, type RoleProcess } from "../support/processes";
import { freePort } from "../support/tcp-proxy";
import { kafkaFor } from "../support/weft";

afterAll(closeFixtures);

const PARTITIONS = 4;

interface Process {
  role: RoleProcess;
  metricsPort: number;
}

async function startProcess(config: WeftConfig): Promise<Process> {
  const metricsPort = await freePort();
  const role = await spawnRoles(config, "decider,worker", {
    WEFT_METRICS_PORT: String(metricsPort),
  });
  return { role, metricsPort };
}

/**
 * Each live process's command partitions (decider) and default-queue task partitions
 * (worker), once both groups are stable with exactly those processes as members; undefined
 * while either group still deals or counts a dead member.
 */
async function assignments(
  config: WeftConfig,
  live: readonly Process[],
): Promise<Map<number, { commands: number[]; tasks: number[] }> | undefined> {
  const kafka = kafkaFor(config);
  const [deciders, workers] = await Promise.all([
    groupMembers(kafka, topics.deciderGroup(config), topics.commands(config)),
    groupMembers(
      kafka,
      topics.workerGroup(config, DEFAULT_TASK_QUEUE),
      topics.tasks(config, DEFAULT_TASK_QUEUE),
    ),
  ]);
  if (deciders.state !== "Stable" || workers.state !== "Stable") return undefined;
  if (deciders.members.length !== live.length || workers.members.length !== live.length)
    return undefined;
  const byProcess = new Map<number, { commands: number[]; tasks: number[] }>();
  for (const { role } of live) {
    // Both consumers of a process share its Kafka client, named after its pid (config.clientId).
    const clientId = `weft-${hostname()}-${role.pid}`;
    const decider = deciders.members.find((m) => m.clientId === clientId);
    const worker = workers.members.find((m) => m.clientId === clientId);
    if (!decider || !worker) return undefined;
    byProcess.set(role.pid, { commands: decider.partitions, tasks: worker.partitions });
  }
  return byProcess;
}

/** Waits until every live process's worker holds exactly the task partitions its decider writes to. */
async function expectLinedUp(config: WeftConfig, live: readonly Process[]): Promise<void> {
  const seen = await waitFor(
    "each worker to hold the task partitions its decider writes to",
    async () => {
      const found = await assignments(config, live);
      if (!found) return undefined;
      const linedUp = [...found.values()].every(
        ({ commands, tasks }) =>
          commands.length > 0 &&
          JSON.stringify([...new Set(commands.map((c) => c % PARTITIONS))].sort()) ===
            JSON.stringify(tasks),
      );
      return linedUp ? found : undefined;
    },
    60_000,
  ).catch(async (err: unknown) => {
    // What the groups held when the wait gave up, in the failure.
    const found = await assignments(config, live);
    (err as Error).message += `\nassignments by pid: ${JSON.stringify(found && [...found])}`;
    throw err;
  });
  // Between them, the processes hold every partition of both topics, each once.
  const all = (pick: "commands" | "tasks") =>
    [...seen.values()].flatMap((a) => a[pick]).sort((a, b) => a - b);
  const every = Array.from({ length: PARTITIONS }, (_, i) => i);
  expect(all("commands")).toEqual(every);
  expect(all("tasks")).toEqual(every);
}

/** Runs `n` three-step runs to completion and checks each one's history. */
async function runAndCheck(client: WeftClient, n: number, from: number): Promise<void> {
  const runs = await Promise.all(
    Array.from({ length: n }, (_, i) => client.start(threeSteps, { input: { n: from + i } })),
  );
  for (const { workflowId } of runs) {
    await client.result(workflowId, { timeoutMs: 60_000 });
    const history = await client.getHistory(workflowId);
    expectGapless(history);
    expectEachStepCompletedOnce(history);
    expect(count(history, "WorkflowCompleted")).toBe(1);
  }
}

const localTasks = async (live: readonly Process[]) =>
  (await Promise.all(live.map((p) => metricsOf(p.metricsPort)))).reduce(
    (sum, page) => sum + metricValue(page, "weft_step_tasks_local_total"),
    0,
  );

it("keeps each worker beside the decider whose tasks it runs as processes start, die and join", async () => {
  const config = isolatedConfig({ commandPartitions: PARTITIONS, taskPartitions: PARTITIONS });
  const logger = testLogger(config);
  const client = await WeftClient.connect({ config, logger, transport: kafkaFor(config) });
  const started: Process[] = [];
  // The children as they start, for the failure's explanation.
  const children: RoleProcess[] = [];
  const start = async () => {
    const process = await startProcess(config);
    children.push(process.role);
    return process;
  };
  try {
    await explainedBy(children, async () => {
      started.push(await start(), await start());
      await expectLinedUp(config, started);
      // Every task of these runs is written by a decider whose process holds its partition.
      await runAndCheck(client, 24, 0);
      expect(await localTasks(started)).toBe(24 * 3);

      // A crash: the survivor takes every partition of both topics.
      await started[0]!.role.kill9();
      const survivor = started[1]!;
      await expectLinedUp(config, [survivor]);

      // A process joins: the partitions are shared again, each worker beside its decider.
      const joined = await start();
      started.push(joined);
      await expectLinedUp(config, [survivor, joined]);
      const before = await localTasks([survivor, joined]);
      await runAndCheck(client, 24, 100);
      expect((await localTasks([survivor, joined])) - before).toBe(24 * 3);
    });
  } finally {
    await client.close();
    await Promise.all(started.map((p) => p.role.kill9()));
  }
});
