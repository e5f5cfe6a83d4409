/**
 * Invariant 1: a decider that lost its partition (a zombie) cannot commit. The new owner's
 * transactional producer fences it; the zombie's decisions never reach history.
 */
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import type { KafkaMessage } from "kafkajs";
import { topics } from "../../core/config";
import { createDeciderMetrics } from "../../deciders/metrics";
import { PartitionOwner, type OwnerDeps } from "../../deciders/partition-owner";
import { Registry } from "../../deciders/registry";
import { commandCodec } from "../../schemas/codec";
import type { Command } from "../../schemas/types";
import { HistoryTail } from "../../transport/history-tail";
import { ensureTopics } from "../../transport/topics";
import { closeFixtures, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger } from "../support/env";
import { types } from "../support/history";
import { kafkaFor } from "../support/weft";

const config = isolatedConfig();
const kafka = kafkaFor(config);
const log = testLogger(config);

function owner(seeks: bigint[]): PartitionOwner {
  const deps: OwnerDeps = {
    kafka,
    decisionLog: kafkaDecisionLog(kafka, config),
    config,
    registry: new Registry([threeSteps], steps),
    log,
    groupId: topics.deciderGroup(config),
    metrics: createDeciderMetrics({ openRuns: () => 0, pendingTimers: () => 0 }),
    taskPartitions: () => Promise.resolve(config.taskPartitions),
    commandPartitions: () => Promise.resolve(config.commandPartitions),
    cursor: {
      committedOffset: () => Promise.resolve(0n),
      endOffset: () => Promise.resolve(0n),
      seek: (_, offset) => seeks.push(offset),
      pause: () => undefined,
      resume: () => undefined,
      holds: () => Promise.resolve(true),
    },
  };
  return new PartitionOwner(0, deps);
}

function startCommand(workflowId: string, offset: number): KafkaMessage {
  const command: Command = {
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "StartWorkflow",
      workflowType: "threeSteps",
      input: '{"n":0}',
      idempotencyKey: null,
      requestId: workflowId,
    },
  };
  return {
    key: Buffer.from(workflowId),
    value: commandCodec.encode(command),
    headers: { ...commandCodec.headers },
    offset: String(offset),
    timestamp: String(Date.now()),
    attributes: 0,
    size: 0,
  } as unknown as KafkaMessage;
}

afterAll(() => closeFixtures());

it("fences the previous owner: its transaction aborts and history holds only the new owner's events", async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config, ["default"]);
  await admin.disconnect();

  const zombie = owner([]);
  await zombie.ensureOpen();
  const successor = owner([]);
  await successor.ensureOpen(); // initialises the same transactional ID: the zombie is fenced

  await zombie.accept([startCommand("from-zombie", 0)]);
  await zombie.flush(30_000);
  // Its commit failed: it dropped its state and waits to reopen from the committed offset.
  expect(zombie.currentPhase).toBe("down");
  expect(zombie.committedOffset).toBe(0n);
  await zombie.close();

  await successor.accept([startCommand("from-owner", 0)]);
  await successor.flush(30_000);

  const tail = new HistoryTail(kafka, topics.history(config), log);
  await tail.catchUp();
  expect(tail.events("from-zombie")).toEqual([]);
  expect(types(tail.events("from-owner"))).toEqual(["WorkflowStarted", "StepScheduled"]);
  await tail.close();
  expect(successor.committedOffset).toBe(1n);
  await successor.close();
});
