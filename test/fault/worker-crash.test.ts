/**
 * Invariant 4 under a real crash: the worker running a step is killed with SIGKILL; once its
 * lease expires another worker runs the step again, and exactly one result is recorded.
 */
import Redis from "ioredis";
import { closeFixtures, slowStep, workflows } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { count, expectGapless } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
let weft: TestWeft;
let redis: Redis;
const workers: RoleProcess[] = [];

beforeAll(async () => {
  redis = new Redis(config.redisUrl);
  weft = await startTestWeft(config, { roles: ["decider"], workflows });
  for (let i = 0; i < 2; i++)
    workers.push(await spawnRoles(config, "worker", { WEFT_LEASE_MS: "3000" }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill9()));
  await weft.stop();
  await redis.quit();
  await closeFixtures();
});

it("reruns a step elsewhere after its worker is killed mid-step; one StepCompleted", async () => {
  const markKey = `${config.topicPrefix}:marks:slow`;
  const { workflowId } = await weft.client.start(slowStep, { input: { ms: 4000, markKey } });

  const firstRun = await waitFor(
    "the step to start",
    async () => (await redis.lrange(markKey, 0, -1))[0],
  );
  const victimPid = Number(firstRun.split(":")[0]);
  const victim = workers.find((w) => w.pid === victimPid);
  expect(victim).toBeDefined();
  await victim!.kill9();

  const result = await weft.client.result<{ pid: number }>(workflowId, { timeoutMs: 90_000 });
  const survivor = workers.find((w) => w.pid !== victimPid)!;
  expect(result.pid).toBe(survivor.pid);

  const runs = await redis.lrange(markKey, 0, -1);
  expect(runs).toEqual([`${victimPid}:1`, `${survivor.pid}:1`]);
  const history = await weft.client.getHistory(workflowId);
  expectGapless(history);
  expect(count(history, "StepCompleted")).toBe(1);
  expect(count(history, "StepFailed")).toBe(0);
  expect(count(history, "WorkflowCompleted")).toBe(1);
});
