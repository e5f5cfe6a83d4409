/**
 * Invariant 9 for a broker: on a three-broker cluster (replication factor 3, min.insync.replicas
 * 2), one broker is killed with kill -9 while runs are mid-flight and their timers pending; more
 * runs start while it is down. Every run still finishes, once, with a gapless history.
 */
import { topics } from "../../core/config";
import { closeFixtures, sleepy, threeSteps, workflows, steps } from "../fixtures/workflows";
import {
  brokerKill,
  brokerStart,
  CLUSTER_BROKERS,
  clusterDown,
  clusterUp,
  leadersByBroker,
  transactionCoordinators,
} from "../support/cluster";
import { isolatedConfig, waitFor } from "../support/env";
import {
  count,
  eventsOf,
  expectEachStepCompletedOnce,
  expectGapless,
  types,
} from "../support/history";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const HOOK_TIMEOUT_MS = 240_000;
const RESULT_TIMEOUT_MS = 120_000;

const config = isolatedConfig({ kafkaBrokers: CLUSTER_BROKERS, replicationFactor: 3 });
let weft: TestWeft | undefined;
let killed: number | undefined;

beforeAll(async () => {
  clusterUp();
  weft = await startTestWeft(config, { workflows, steps });
}, HOOK_TIMEOUT_MS);

afterAll(async () => {
  try {
    if (killed !== undefined) brokerStart(killed);
    await weft?.stop();
    await closeFixtures();
  } finally {
    clusterDown();
  }
}, HOOK_TIMEOUT_MS);

/** The broker leading the most partitions of the commands topic; ties: most decider coordinators. */
async function brokerToKill(): Promise<{ broker: number; why: string }> {
  const kafka = kafkaFor(config);
  const leaders = await leadersByBroker(kafka, topics.commands(config));
  const txIds = Array.from(
    { length: config.commandPartitions },
    (_, p) => `${config.topicPrefix}.decider.p${p}`,
  );
  const coordinators = await transactionCoordinators(kafka, txIds);
  const coordinated = (n: number) => [...coordinators.values()].filter((c) => c === n).length;
  const [broker] = [...leaders.keys()].sort(
    (a, b) => leaders.get(b)! - leaders.get(a)! || coordinated(b) - coordinated(a),
  );
  expect(leaders.get(broker!)).toBeGreaterThan(0);
  return {
    broker: broker!,
    why: `leads ${leaders.get(broker!)} of ${config.commandPartitions} command partitions, coordinates ${coordinated(broker!)} decider transactions`,
  };
}

function startBatch(client: TestWeft["client"], tag: string, size: number) {
  return Promise.all(
    Array.from({ length: size }, (_, i) =>
      i % 2 === 0
        ? client
            .start(threeSteps, { input: { n: i }, workflowId: `${tag}-chain-${i}` })
            .then(({ workflowId }) => ({ workflowId, kind: "chain" as const, n: i }))
        : client
            .start(sleepy, { input: { ms: 3000 }, workflowId: `${tag}-sleepy-${i}` })
            .then(({ workflowId }) => ({ workflowId, kind: "sleepy" as const, n: i })),
    ),
  );
}

it(
  "finishes every run when one broker of three is killed mid-flight",
  async () => {
    const { client } = weft!;
    const before = await startBatch(client, "before", 30);

    // Every sleepy run waits on its 3 s timer: the kill lands while timers are pending.
    await waitFor("the timers of the first runs", async () => {
      for (const run of before.filter((r) => r.kind === "sleepy")) {
        if (!types(await client.getHistory(run.workflowId)).includes("TimerStarted")) return false;
      }
      return true;
    });

    const target = await brokerToKill();
    process.stderr.write(`killing broker ${target.broker}: ${target.why}\n`);
    brokerKill(target.broker);
    killed = target.broker;

    // Starts accepted while the broker is down must not be lost either.
    const during = await startBatch(client, "during", 20);
    const runs = [...before, ...during];

    const results = await Promise.all(
      runs.map((r) => client.result(r.workflowId, { timeoutMs: RESULT_TIMEOUT_MS })),
    );
    runs.forEach((r, i) => {
      if (r.kind === "chain") expect(results[i]).toEqual({ n: r.n + 3 });
      else expect(results[i]).toEqual({ woke: expect.any(Number) as number });
    });

    for (const run of runs) {
      const history = await client.getHistory(run.workflowId);
      expectGapless(history);
      expectEachStepCompletedOnce(history);
      expect(count(history, "WorkflowStarted")).toBe(1);
      expect(count(history, "WorkflowCompleted")).toBe(1);
      if (run.kind === "sleepy") {
        const [started] = eventsOf(history, "TimerStarted");
        const fired = eventsOf(history, "TimerFired");
        expect(fired).toHaveLength(1);
        expect(fired[0]!.at).toBeGreaterThanOrEqual(started!.body.dueAt);
      }
    }
  },
  HOOK_TIMEOUT_MS,
);
