/**
 * Invariants 2, 3, 5 and 9 under a real crash: the decider process is killed with SIGKILL while
 * runs are mid-flight and while 5 s waits are pending; another decider takes over.
 */
import { closeFixtures, sleepy, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import {
  count,
  eventsOf,
  expectEachStepCompletedOnce,
  expectGapless,
  types,
} from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
let weft: TestWeft;
const children: RoleProcess[] = [];

beforeAll(async () => {
  weft = await startTestWeft(config, { roles: ["worker"], steps });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill9()));
  await weft.stop();
  await closeFixtures();
});

it("finishes every run after kill -9 of the decider: timers fire once, histories stay gapless", async () => {
  const first = await spawnRoles(config, "decider");
  children.push(first);

  const sleepers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      weft.client.start(sleepy, { input: { ms: 5000 }, workflowId: `sleeper-${i}` }),
    ),
  );
  // These are inside a 2 s step when the decider dies: their results wait in Kafka for the next one.
  const midStep = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      weft.client.start(sleepy, { input: { ms: 0, stepMs: 2000 }, workflowId: `mid-${i}` }),
    ),
  );
  const chains = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      weft.client.start(threeSteps, { input: { n: i }, workflowId: `chain-${i}` }),
    ),
  );

  // Every sleeper is inside its 5 s wait; some chains are done, some are mid-run.
  await waitFor("all waits pending and the slow steps running", async () => {
    for (const { workflowId } of sleepers) {
      if (!types(await weft.client.getHistory(workflowId)).includes("TimerStarted")) return false;
    }
    for (const { workflowId } of midStep) {
      if (
        types(await weft.client.getHistory(workflowId)).filter((t) => t === "StepStarted").length <
        2
      )
        return false;
    }
    return true;
  });
  await first.kill9();

  const second = await spawnRoles(config, "decider");
  children.push(second);

  const results = await Promise.all(
    chains.map(({ workflowId }) => weft.client.result(workflowId, { timeoutMs: 90_000 })),
  );
  expect(results).toEqual(chains.map((_, i) => ({ n: i + 3 })));
  await Promise.all(
    [...sleepers, ...midStep].map(({ workflowId }) =>
      weft.client.result(workflowId, { timeoutMs: 90_000 }),
    ),
  );

  for (const { workflowId } of [...sleepers, ...midStep, ...chains]) {
    const history = await weft.client.getHistory(workflowId);
    expectGapless(history);
    expectEachStepCompletedOnce(history);
    expect(count(history, "WorkflowStarted")).toBe(1);
    expect(count(history, "WorkflowCompleted")).toBe(1);
  }
  for (const { workflowId } of sleepers) {
    const history = await weft.client.getHistory(workflowId);
    const [started] = eventsOf(history, "TimerStarted");
    const fired = eventsOf(history, "TimerFired");
    expect(fired).toHaveLength(1);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(started!.body.dueAt);
  }
});
