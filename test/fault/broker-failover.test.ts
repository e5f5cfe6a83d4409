/**
 * Invariant 9 for a broker: on a three-broker cluster (replication factor 3, min.insync.replicas
 * 2), one broker is killed with kill -9 while runs are mid-flight and their timers pending; more
 * runs start while it is down. Every run still finishes, once, with a gapless history.
 */
import { topics } from "../../core/config";
import type { HistoryEvent } from "../../schemas/types";
import { readHistoryPartitions } from "../../transport/history-reader";
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
import { isolatedConfig, testLogger, waitFor } from "../support/env";
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
    await weft?.stop().catch(async (err: unknown) => {
      // A kafkajs consumer that is restarting after a crash refuses pause(); try once more.
      process.stderr.write(`stopping weft failed (${String(err)}); trying again\n`);
      await new Promise((r) => setTimeout(r, 3000));
      await weft?.runtime.stop();
    });
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

type Run = { workflowId: string; kind: "chain" | "sleepy"; n: number };

/** Refused starts (the client's producer gave up on the dead leader) that were sent again. */
let startRetries = 0;

/**
 * Starts a run; a start the client refused is sent again with the same workflow ID, which
 * names one run (invariant 6), as any caller would. Each run ends up accepted exactly once.
 */
async function startRun(client: TestWeft["client"], run: Run): Promise<Run> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if (run.kind === "chain")
        await client.start(threeSteps, { input: { n: run.n }, workflowId: run.workflowId });
      else await client.start(sleepy, { input: { ms: 3000 }, workflowId: run.workflowId });
      return run;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      startRetries++;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function startBatch(client: TestWeft["client"], tag: string, size: number): Promise<Run[]> {
  return Promise.all(
    Array.from({ length: size }, (_, n) => {
      const kind = n % 2 === 0 ? "chain" : "sleepy";
      return startRun(client, { workflowId: `${tag}-${kind}-${n}`, kind, n });
    }),
  );
}

/** What an unfinished run did last, for the failure message. */
async function describeUnfinished(client: TestWeft["client"], runs: Run[]): Promise<string> {
  const lines: string[] = [];
  for (const run of runs) {
    const history = await client.getHistory(run.workflowId).catch(() => []);
    const last = types(history);
    if (last.includes("WorkflowCompleted")) continue;
    lines.push(`${run.workflowId}: ${last.join(", ") || "(no history)"}`);
  }
  return lines.join("\n");
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

    const settled = await Promise.allSettled(
      runs.map((r) => client.result(r.workflowId, { timeoutMs: RESULT_TIMEOUT_MS })),
    );
    if (settled.some((s) => s.status === "rejected")) {
      throw new Error(
        `not every run finished after broker ${killed} was killed:\n${await describeUnfinished(client, runs)}`,
      );
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
    process.stderr.write(`all ${runs.length} runs finished; starts sent again: ${startRetries}\n`);
    runs.forEach((r, i) => {
      if (r.kind === "chain") expect(results[i]).toEqual({ n: r.n + 3 });
      else expect(results[i]).toEqual({ woke: expect.any(Number) as number });
    });

    // The event store itself, read afresh from the history topic.
    const stored = new Map<string, HistoryEvent[]>();
    await readHistoryPartitions(
      kafkaFor(config),
      topics.history(config),
      Array.from({ length: config.commandPartitions }, (_, p) => p),
      (_, event) => stored.set(event.workflowId, [...(stored.get(event.workflowId) ?? []), event]),
      testLogger(config),
    );
    for (const run of runs) {
      const history = stored.get(run.workflowId) ?? [];
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
    // What the client reports is the store's history, unchanged.
    for (const run of runs) {
      expect(await client.getHistory(run.workflowId)).toEqual(stored.get(run.workflowId));
    }
  },
  HOOK_TIMEOUT_MS,
);
