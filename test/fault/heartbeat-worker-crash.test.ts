/**
 * A heartbeat timeout when the worker is gone: the worker running a step's first attempt
 * heartbeats its progress and is killed with SIGKILL; the decider's heartbeat timer fails the
 * attempt (no worker reported it), and the retry runs on the other worker, resuming from the
 * details the dead one heartbeated.
 */
import { resumableAcrossWorkers, workflows } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { eventsOf, expectGapless, types } from "../support/history";
import { explainedBy, spawnRoles, type RoleProcess } from "../support/processes";
import { startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
let weft: TestWeft;
const workers: RoleProcess[] = [];

beforeAll(async () => {
  weft = await startTestWeft(config, { roles: ["decider"], workflows });
  for (let i = 0; i < 2; i++)
    workers.push(await spawnRoles(config, "worker", { WEFT_LEASE_MS: "3000" }));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill9()));
  await weft.stop();
});

it("retries a killed worker's attempt on the other worker with the details it heartbeated", async () => {
  await explainedBy(workers, async () => {
    const { workflowId } = await weft.client.start(resumableAcrossWorkers, {
      input: { key: "crash", pages: 4 },
    });
    const beat = await waitFor("the first attempt's heartbeat", async () => {
      const history = await weft.client.getHistory(workflowId);
      return eventsOf(history, "StepHeartbeatRecorded")[0];
    });
    const started = eventsOf(await weft.client.getHistory(workflowId), "StepStarted")[0]!;
    const victim = workers.find((w) => started.body.workerId.includes(`-${w.pid}-`));
    expect(victim).toBeDefined();
    await victim!.kill9();

    const result = await weft.client.result<{ resumedFrom: number; attempt: number; pid: number }>(
      workflowId,
      { timeoutMs: 90_000 },
    );
    const survivor = workers.find((w) => w !== victim)!;
    expect(result).toEqual({ resumedFrom: 2, pages: 4, attempt: 2, pid: survivor.pid });

    const history = await weft.client.getHistory(workflowId);
    expectGapless(history);
    expect(beat.body.details).toBe('{"page":2}');
    // The decider failed the attempt: no worker reported it.
    expect(eventsOf(history, "StepFailed").map((e) => e.body)).toMatchObject([
      { attempt: 1, workerId: null, willRetry: true, error: { code: "STEP_HEARTBEAT_TIMEOUT" } },
    ]);
    const failedAt = eventsOf(history, "StepFailed")[0]!.at;
    expect(failedAt - beat.at).toBeGreaterThanOrEqual(3000);
    expect(types(history).filter((t) => t === "StepCompleted")).toHaveLength(1);
  });
});
