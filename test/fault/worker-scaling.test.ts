/**
 * Workers come and go without disturbing runs: a worker is added mid-run and another is
 * stopped with SIGTERM while its steps run. It drains them; every step body runs exactly once.
 */
import Redis from "ioredis";
import { closeFixtures, sleepy, workflows } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { count, expectGapless } from "../support/history";
import { spawnRoles } from "../support/processes";
import { startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
let weft: TestWeft;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(config.redisUrl);
  weft = await startTestWeft(config, { roles: ["decider"], workflows });
});

afterAll(async () => {
  await weft.stop();
  await redis.quit();
  await closeFixtures();
});

it("adds a worker and drains another mid-run; each step body runs once", async () => {
  const first = await spawnRoles(config, "worker");
  const markKey = (i: number) => `${config.topicPrefix}:marks:${i}`;
  const runs = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      weft.client.start(sleepy, {
        input: { ms: 0, stepMs: 400 + (i % 4) * 200, markKey: markKey(i) },
      }),
    ),
  );
  await waitFor(
    "some slow steps running on the first worker",
    async () => (await redis.exists(markKey(0), markKey(1))) > 0,
  );

  const second = await spawnRoles(config, "worker");
  await first.stop(); // SIGTERM: finish and report what runs, then leave
  try {
    await Promise.all(
      runs.map(({ workflowId }) => weft.client.result(workflowId, { timeoutMs: 90_000 })),
    );
  } finally {
    await second.stop();
  }

  const executions = await Promise.all(runs.map((_, i) => redis.llen(markKey(i))));
  expect(executions).toEqual(runs.map(() => 1));
  for (const { workflowId } of runs) {
    const history = await weft.client.getHistory(workflowId);
    expectGapless(history);
    expect(count(history, "StepCompleted")).toBe(2);
    expect(count(history, "StepFailed")).toBe(0);
  }
});
