/**
 * Invariant 1, after the fact: a decider whose group session lapsed (its fetch loop stuck, as
 * under heavy load) while another took its partition learns of it from a fenced commit, before
 * its consumer hears of the rebalance. It must not reopen the partition then: its open would
 * fence the rightful owner, which would reopen and fence it back until the group settled.
 */
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import { topics } from "../../core/config";
import { FaultPoints } from "../../core/fault-points";
import { Decider } from "../../deciders/decider";
import type { Command } from "../../schemas/types";
import { WeftClient } from "../../sdk/client";
import { closeFixtures, echo, threeSteps } from "../fixtures/workflows";
import { start as startBody } from "../support/command-bodies";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { groupAssignment } from "../support/groups";
import { kafkaFor } from "../support/weft";

afterAll(closeFixtures);

const start = (workflowId: string): Command => ({
  workflowId,
  sentAt: Date.now(),
  body: startBody("threeSteps", { n: 0 }),
});

const total = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values.reduce((n, v) => n + v.value, 0);

it("leaves a partition the group gave away to its rightful owner, and reopens one it still holds", async () => {
  const config = isolatedConfig({ commandPartitions: 1, taskPartitions: 1 });
  const kafka = kafkaFor(config);
  const logger = testLogger(config);
  const decisionLog = kafkaDecisionLog(kafka, config);
  const decider = (faults?: FaultPoints) =>
    new Decider({
      config,
      kafka,
      decisionLog,
      logger,
      workflows: [threeSteps],
      steps: [echo],
      faults,
    });
  const faults = new FaultPoints();
  const stale = decider(faults);
  const rightful = decider();
  const client = await WeftClient.connect({ config, logger, transport: kafka });
  const stuck = faults.hold("decider.fetch");
  const outsider = decisionLog.writer(`${config.topicPrefix}.decider.p0`);
  try {
    await stale.start();
    await stale.ready();
    // Its fetch loop stops inside a batch: no more heartbeats, so its session lapses.
    await client.start(threeSteps, { input: { n: 1 } });
    await stuck.reached;
    await rightful.start();
    await rightful.ready();
    const group = () =>
      groupAssignment(kafka, topics.deciderGroup(config), topics.commands(config));
    expect(await group()).toEqual([[0]]);
    expect(rightful.ownedPartitions).toEqual([0]);
    // The stale decider still believes it owns the partition; its next commit is fenced.
    expect(stale.ownedPartitions).toEqual([0]);
    expect(await stale.submit(start("decided-by-the-stale-owner"))).toBe(false);

    // Its reopen is due after a session timeout: it either reopens, fencing the rightful
    // owner (which would reopen and fence it back), or asks the group first and holds back.
    await waitFor(
      "the stale decider to reopen or to hold back",
      async () =>
        stale.partitionsNotReady.length === 0 || (await total(stale.metrics.reopensDeferred)) > 0,
    );
    expect(stale.partitionsNotReady).toEqual([0]);
    expect(await rightful.submit(start("decided-by-the-rightful-owner"))).toBe(true);

    // Its fetch loop goes on: it hears of the rebalance and rejoins. Claiming the partition
    // it was fenced from, it could win it back: one more move, restore and fence.
    stuck.release();
    await waitFor(
      "the stale decider or the rightful one to lose the partition",
      () => stale.ownedPartitions.length === 0 || rightful.ownedPartitions.length === 0,
    );
    expect(stale.ownedPartitions).toEqual([]);
    expect(rightful.ownedPartitions).toEqual([0]);
    expect(await total(rightful.metrics.partitionResets)).toBe(0);
    await waitFor("two members in the group", async () => (await group()).length === 2);
    expect((await group()).flat()).toEqual([0]);

    // A fence from outside the group (a writer with the partition's transactional ID): the
    // group still gives the partition here, so the owner reopens it after its wait.
    await outsider.connect();
    expect(await rightful.submit(start("fenced-from-outside"))).toBe(false);
    await rightful.ready();
    expect(await rightful.submit(start("decided-after-the-reopen"))).toBe(true);
    expect(await total(rightful.metrics.reopensDeferred)).toBe(0);
  } finally {
    stuck.release();
    await outsider.disconnect();
    await client.close();
    await stale.stop();
    await rightful.stop();
  }
});
