/**
 * Invariant 1: two deciders split the partitions; when one stops, the other takes its
 * partitions over, and no run ever gets events from both (gapless, unique sequence numbers).
 */
import { topics } from "../../core/config";
import { closeFixtures, sleepy, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { groupAssignment } from "../support/groups";
import { count, expectEachStepCompletedOnce, expectGapless } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
const kafka = kafkaFor(config);
let weft: TestWeft;
const deciders: RoleProcess[] = [];

beforeAll(async () => {
  weft = await startTestWeft(config, { roles: ["worker"], steps });
});

afterAll(async () => {
  await Promise.all(deciders.map((d) => d.kill9()));
  await weft.stop();
  await closeFixtures();
});

it("splits partitions between two deciders and moves them when one stops", async () => {
  deciders.push(await spawnRoles(config, "decider"));
  deciders.push(await spawnRoles(config, "decider"));
  const split = await waitFor("two members owning two partitions each", async () => {
    const members = await groupAssignment(
      kafka,
      topics.deciderGroup(config),
      topics.commands(config),
    );
    return members.length === 2 && members.every((m) => m.length === 2) ? members : undefined;
  });
  expect(split.flat().sort()).toEqual([0, 1, 2, 3]);

  const runs = [
    ...(await Promise.all(
      Array.from({ length: 40 }, (_, i) => weft.client.start(threeSteps, { input: { n: i } })),
    )),
    ...(await Promise.all(
      Array.from({ length: 6 }, () => weft.client.start(sleepy, { input: { ms: 1500 } })),
    )),
  ];
  await deciders[0]!.stop();

  await Promise.all(
    runs.map(({ workflowId }) => weft.client.result(workflowId, { timeoutMs: 90_000 })),
  );
  const after = await groupAssignment(kafka, topics.deciderGroup(config), topics.commands(config));
  expect(after).toEqual([[0, 1, 2, 3]]);

  for (const { workflowId } of runs) {
    const history = await weft.client.getHistory(workflowId);
    expectGapless(history);
    expectEachStepCompletedOnce(history);
    expect(count(history, "WorkflowCompleted")).toBe(1);
  }
});
