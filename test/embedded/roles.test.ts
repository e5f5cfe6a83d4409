/**
 * Weft's own decider and worker, unchanged, on the embedded log instead of a broker: runs
 * complete with gapless histories, and a restart on the same directory resumes pending waits
 * and timers. Leases and done-markers are in memory: no Kafka, no Redis.
 */
import { embeddedDecisionLog } from "../../adapters/embedded/decision-log";
import { topics, type WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { Decider } from "../../deciders/decider";
import { CommandProducer } from "../../producers/command-producer";
import { signalWorkflowCommand, startWorkflowCommand } from "../../producers/workflow-commands";
import type { HistoryEvent } from "../../schemas/types";
import { HistoryTail } from "../../transport/history-tail";
import { EmbeddedKafka } from "../../adapters/embedded";
import { Worker } from "../../workers";
import { InProcessStepLeaseStore } from "../../adapters/in-process/step-lease-store";
import {
  approval,
  closeFixtures,
  retryFixed,
  sleepy,
  steps,
  threeSteps,
} from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count, expectEachStepCompletedOnce, expectGapless, types } from "../support/history";
import { tempDir } from "./helpers";

const workflows = [threeSteps, retryFixed, approval, sleepy];

/** Decider, worker, command producer and history tail in this process, on one embedded log. */
class EmbeddedWeft {
  private constructor(
    readonly kafka: EmbeddedKafka,
    readonly decider: Decider,
    readonly worker: Worker,
    readonly commands: CommandProducer,
    readonly history: HistoryTail,
  ) {}

  static async start(dir: string, config: WeftConfig, logger: Logger): Promise<EmbeddedWeft> {
    const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never", logger });
    const decisionLog = embeddedDecisionLog(kafka);
    const decider = new Decider({ config, kafka, decisionLog, logger, workflows, steps });
    await decider.start();
    await decider.ready();
    const worker = new Worker({
      config,
      logger,
      kafka,
      steps,
      leaseMs: 2000,
      leases: new InProcessStepLeaseStore(),
    });
    await worker.start();
    const commands = new CommandProducer(kafka, config);
    await commands.connect();
    const history = new HistoryTail(kafka, topics.history(config), logger);
    await history.start();
    return new EmbeddedWeft(kafka, decider, worker, commands, history);
  }

  async start(workflowType: string, input: unknown): Promise<string> {
    const command = startWorkflowCommand(workflowType, { input });
    await this.commands.send(command);
    return command.workflowId;
  }

  async closed(workflowId: string, timeoutMs = 30_000): Promise<HistoryEvent[]> {
    return waitFor(
      `${workflowId} to close`,
      () => {
        const events = this.history.events(workflowId);
        const last = events.at(-1)?.body.type;
        return last && /^Workflow(Completed|Failed|Cancelled|Blocked)$/.test(last)
          ? [...events]
          : undefined;
      },
      timeoutMs,
      10,
    );
  }

  async stop(): Promise<void> {
    await this.history.close();
    await this.commands.close();
    await this.worker.stop();
    await this.decider.stop();
    await this.kafka.close();
  }
}

function result(events: HistoryEvent[]): unknown {
  const last = events.at(-1)!.body;
  if (last.type !== "WorkflowCompleted") throw new Error(`run ended with ${last.type}`);
  return JSON.parse(last.result) as unknown;
}

describe("decider and worker on the embedded log", () => {
  const config = isolatedConfig();
  const logger = testLogger(config);
  const { dir, cleanup } = tempDir();
  let weft: EmbeddedWeft;

  beforeAll(async () => {
    weft = await EmbeddedWeft.start(dir, config, logger);
  });

  afterAll(async () => {
    await weft.stop();
    await closeFixtures();
    cleanup();
  });

  it("runs threeSteps to completion with a gapless history", async () => {
    const id = await weft.start("threeSteps", { n: 1 });
    const events = await weft.closed(id);
    expect(result(events)).toEqual({ n: 4 });
    expectGapless(events);
    expectEachStepCompletedOnce(events);
    expect(count(events, "StepCompleted")).toBe(3);
  });

  it("runs many at once", async () => {
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, n) => weft.start("threeSteps", { n })),
    );
    const all = await Promise.all(ids.map((id) => weft.closed(id)));
    all.forEach((events, n) => {
      expect(result(events)).toEqual({ n: n + 3 });
      expectGapless(events);
    });
  });

  it("retries a failing step after its backoff", async () => {
    const id = await weft.start("retryFixed", undefined);
    const events = await weft.closed(id);
    expect(result(events)).toEqual({ attempt: 3 });
    expect(count(events, "StepFailed")).toBe(2);
    expectGapless(events);
  });

  it("delivers a signal", async () => {
    const id = await weft.start("approval", { timeoutMs: 60_000 });
    await waitFor("the wait", () => types(weft.history.events(id)).includes("SignalWaitStarted"));
    await weft.commands.send(signalWorkflowCommand(id, "approve", { approvedBy: "ada" }));
    const events = await weft.closed(id);
    expect(result(events)).toEqual({ approved: true, by: "ada" });
    expectGapless(events);
  });

  it("fires a timer", async () => {
    const id = await weft.start("sleepy", { ms: 300 });
    const events = await weft.closed(id);
    expect(types(events)).toContain("TimerFired");
    expectGapless(events);
  });

  it("shares partitions with a second decider, and hands them back when it stops", async () => {
    const second = new Decider({
      config,
      kafka: weft.kafka,
      decisionLog: embeddedDecisionLog(weft.kafka),
      logger,
      workflows,
      steps,
    });
    await second.start();
    await waitFor("a split", () => second.ownedPartitions.length === 2);
    expect([...weft.decider.ownedPartitions, ...second.ownedPartitions].sort()).toEqual([
      0, 1, 2, 3,
    ]);
    const during = await Promise.all(
      Array.from({ length: 20 }, (_, n) => weft.start("threeSteps", { n })),
    );
    await Promise.all(during.map((id) => weft.closed(id)));
    await second.stop();
    await waitFor("all back", () => weft.decider.ownedPartitions.length === 4);
    const after = await Promise.all(
      Array.from({ length: 20 }, (_, n) => weft.start("threeSteps", { n })),
    );
    for (const id of [...during, ...after]) {
      const events = await weft.closed(id);
      expectGapless(events);
      expectEachStepCompletedOnce(events);
    }
  });

  it("resumes a pending signal wait and a pending timer after a restart", async () => {
    const waiting = await weft.start("approval", { timeoutMs: 60_000 });
    const sleeping = await weft.start("sleepy", { ms: 1500 });
    await waitFor("both waiting", () => {
      const a = types(weft.history.events(waiting));
      const s = types(weft.history.events(sleeping));
      return a.includes("SignalWaitStarted") && s.includes("TimerStarted");
    });
    await weft.stop();

    weft = await EmbeddedWeft.start(dir, config, logger);
    await weft.commands.send(signalWorkflowCommand(waiting, "approve", { approvedBy: "grace" }));
    const approved = await weft.closed(waiting);
    expect(result(approved)).toEqual({ approved: true, by: "grace" });
    expectGapless(approved);
    const slept = await weft.closed(sleeping);
    expect(count(slept, "TimerFired")).toBe(1);
    expectGapless(slept);
  });
});
