/**
 * Every failure branch of a partition owner, made to happen on purpose through named fault
 * points, on Kafka and on the embedded log (invariants 2 and 5):
 * - a commit fails and then the rewind (or the restore) fails too: no command is skipped;
 * - a commit fails with no command after it: the partition reopens by itself, its timer fires;
 * - a partition revoked while its batch is in flight does no more work;
 * - a decider that lags: a signal acknowledged before its wait's deadline beats the timeout.
 */
import { embeddedDecisionLog } from "../../adapters/embedded/decision-log";
import { kafkaDecisionLog } from "../../adapters/kafka/decision-log";
import type { KafkaMessage } from "kafkajs";
import { topics, type WeftConfig } from "../../core/config";
import { FaultPoints, type FaultPointName } from "../../core/fault-points";
import { Decider } from "../../deciders/decider";
import { createDeciderMetrics } from "../../deciders/metrics";
import { PartitionOwner } from "../../deciders/partition-owner";
import { Registry } from "../../deciders/registry";
import { commandCodec } from "../../schemas/codec";
import type { Command, HistoryEvent } from "../../schemas/types";
import { defineWorkflow } from "../../sdk";
import { WeftClient } from "../../sdk/client";
import { EmbeddedKafka } from "../../adapters/embedded";
import { ReadStalledError } from "../../transport/history-reader";
import { HistoryTail } from "../../transport/history-tail";
import { ensureTopics, withAdmin } from "../../transport/topics";
import type { KafkaPort, PortDecisionLog } from "../../transport/port";
import { tempDir } from "../embedded/helpers";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count, eventsOf, expectGapless, types } from "../support/history";
import { kafkaFor } from "../support/weft";

const napper = defineWorkflow("napper", async (ctx, input: { ms: number }) => {
  await ctx.wait(input.ms);
  return "woke";
});

const waiter = defineWorkflow("waiter", async (ctx, input: { timeoutMs: number }) => {
  const signal = await ctx.waitForSignal<{ v: number }>("go", { timeoutMs: input.timeoutMs });
  return signal ? { received: signal.v } : { timedOut: true };
});

const workflows = [napper, waiter];

interface Transport {
  kafka: KafkaPort;
  decisionLog: PortDecisionLog;
  close(): Promise<void>;
}

const transports: Record<string, (config: WeftConfig) => Promise<Transport>> = {
  kafka: (config) => {
    const kafka = kafkaFor(config);
    return Promise.resolve({
      kafka,
      decisionLog: kafkaDecisionLog(kafka, config),
      close: () => Promise.resolve(),
    });
  },
  embedded: async () => {
    const { dir, cleanup } = tempDir();
    const log = await EmbeddedKafka.open({ directory: dir, sync: "never" });
    return {
      kafka: log,
      decisionLog: embeddedDecisionLog(log),
      close: async () => {
        await log.close();
        cleanup();
      },
    };
  },
};

describe.each(Object.keys(transports))("decider fault points on %s", (name) => {
  let config: WeftConfig;
  let transport: Transport;
  let faults: FaultPoints;
  let decider: Decider;
  let client: WeftClient;
  let tail: HistoryTail;

  beforeEach(async () => {
    config = isolatedConfig({ commandPartitions: 2 });
    transport = await transports[name]!(config);
    faults = new FaultPoints();
    const logger = testLogger(config);
    decider = new Decider({
      config,
      kafka: transport.kafka,
      decisionLog: transport.decisionLog,
      logger,
      workflows,
      faults,
    });
    await decider.start();
    await decider.ready();
    client = await WeftClient.connect({ config, logger, transport: transport.kafka });
    tail = new HistoryTail(transport.kafka, topics.history(config), logger);
  });

  afterEach(async () => {
    await tail.close();
    await client.close();
    await decider.stop();
    await transport.close();
  });

  const history = async (workflowId: string): Promise<readonly HistoryEvent[]> => {
    await tail.catchUp();
    return tail.events(workflowId);
  };

  const until = (workflowId: string, type: HistoryEvent["body"]["type"]) =>
    waitFor(`${workflowId}: ${type}`, async () => count(await history(workflowId), type) > 0);

  /** Sum over partitions of the deciders' committed offsets: every command covered once. */
  const committedCommands = () =>
    withAdmin(transport.kafka, async (admin) => {
      const [entry] = await admin.fetchOffsets({
        groupId: topics.deciderGroup(config),
        topics: [topics.commands(config)],
      });
      return (entry?.partitions ?? []).reduce(
        (sum, p) => sum + (p.offset === "-1" ? 0 : Number(p.offset)),
        0,
      );
    });

  it.each<FaultPointName>(["decider.seek", "decider.committed-offset", "decider.restore"])(
    "a failed commit followed by a failed reopen (%s) skips no command",
    async (reopenPoint) => {
      faults.fail("decider.commit", 1).fail(reopenPoint, 1);
      const ids = await Promise.all(
        Array.from(
          { length: 20 },
          async (_, i) =>
            (await client.start(waiter, { workflowId: `w-${i}`, input: { timeoutMs: 600_000 } }))
              .workflowId,
        ),
      );
      for (const id of ids) await until(id, "SignalWaitStarted");
      for (const id of ids) {
        const events = await history(id);
        expectGapless(events);
        expect(count(events, "WorkflowStarted")).toBe(1);
      }
      expect(faults.hits("decider.commit")).toBeGreaterThanOrEqual(2);
      expect(faults.hits(reopenPoint)).toBeGreaterThanOrEqual(2);
      await waitFor("offsets committed for all 20 commands", async () =>
        (await committedCommands()) === 20 ? true : undefined,
      );
      expect(decider.partitionsNotReady).toEqual([]);
    },
  );

  it("a changelog that cannot be read (kafkajs stalls at an empty batch): the partition restores from history", async () => {
    const ids = await Promise.all(
      Array.from(
        { length: 6 },
        async (_, i) =>
          (await client.start(waiter, { workflowId: `cl-${i}`, input: { timeoutMs: 600_000 } }))
            .workflowId,
      ),
    );
    for (const id of ids) await until(id, "SignalWaitStarted");
    // The next commit fails: the partition reopens, and its changelog read stalls.
    faults
      .fail("decider.commit", 1)
      .fail("decider.changelog-read", 1, () => new ReadStalledError("runs", "0@0"));
    const reads = faults.hits("decider.changelog-read");
    for (const id of ids) await client.signal(id, "go", { v: 1 });
    for (const id of ids) expect(await client.result(id)).toEqual({ received: 1 });
    expect(faults.hits("decider.changelog-read")).toBeGreaterThan(reads);
    for (const id of ids) {
      const events = await history(id);
      expectGapless(events);
      expect(count(events, "SignalReceived")).toBe(1);
    }
    expect(decider.partitionsNotReady).toEqual([]);
  });

  it("a failed commit with no command after it: the partition reopens by itself and its timer fires once", async () => {
    const { workflowId } = await client.start(napper, { input: { ms: 1000 } });
    await until(workflowId, "TimerStarted");
    // The next commit of the partition is the timer's; nothing else will ever arrive.
    const resets = faults.hits("decider.seek");
    faults.fail("decider.commit", 1);
    await until(workflowId, "WorkflowCompleted");
    const events = await history(workflowId);
    expectGapless(events);
    expect(count(events, "TimerFired")).toBe(1);
    const [started] = eventsOf(events, "TimerStarted");
    const [fired] = eventsOf(events, "TimerFired");
    expect(fired!.at).toBeGreaterThanOrEqual(started!.body.dueAt);
    expect(faults.hits("decider.seek")).toBeGreaterThan(resets); // it reopened
  });

  it("a signal acknowledged before its wait's deadline beats the timeout while the decider lags", async () => {
    const { workflowId } = await client.start(waiter, { input: { timeoutMs: 3000 } });
    await until(workflowId, "SignalWaitStarted");
    const [wait] = eventsOf(await history(workflowId), "SignalWaitStarted");
    // The decider stops taking commands: the signal waits in the log past the deadline.
    const fetch = faults.hold("decider.fetch");
    const timerChecked = faults.nextHit("decider.end-offset");
    await client.signal(workflowId, "go", { v: 7 });
    const acknowledgedAt = Date.now();
    expect(acknowledgedAt).toBeLessThan(wait!.body.dueAt!);
    await fetch.reached;
    await timerChecked; // the deadline passed and the timer wants to fire
    fetch.release();
    await until(workflowId, "WorkflowCompleted");
    const events = await history(workflowId);
    expect(count(events, "SignalWaitTimedOut")).toBe(0);
    expect(count(events, "SignalReceived")).toBe(1);
    expect(await client.result(workflowId)).toEqual({ received: 7 });
  });

  it("a partition revoked while its batch is in flight commits nothing and sends nothing to the DLQ", async () => {
    await decider.stop(); // this test drives one owner by hand
    const logger = testLogger(config);
    await withAdmin(transport.kafka, (admin) => ensureTopics(admin, config, ["default"]));
    const owner = new PartitionOwner(0, {
      kafka: transport.kafka,
      decisionLog: transport.decisionLog,
      config,
      registry: new Registry(workflows),
      log: logger,
      groupId: topics.deciderGroup(config),
      metrics: createDeciderMetrics({ openRuns: () => 0, pendingTimers: () => 0 }),
      taskPartitions: () => Promise.resolve(config.taskPartitions),
      commandPartitions: () => Promise.resolve(config.commandPartitions),
      faults,
      cursor: {
        committedOffset: () => Promise.resolve(0n),
        endOffset: () => Promise.resolve(0n),
        seek: () => undefined,
        pause: () => undefined,
        resume: () => undefined,
        holds: () => Promise.resolve(true),
      },
    });
    await owner.ensureOpen();
    const inFlight = faults.hold("decider.before-commit");
    await owner.accept([startMessage("revoked-run", 0), undefinedMessage(1)]);
    await inFlight.reached;
    const closed = owner.close(); // the revoke
    inFlight.release();
    await closed;
    expect(types(await history("revoked-run"))).toEqual([]);
    expect(await committedCommands()).toBe(0);
    const dlq = await withAdmin(transport.kafka, (admin) =>
      admin.fetchTopicOffsets(topics.dlq(config)),
    );
    expect(dlq.every((p) => p.high === p.low)).toBe(true);
  });
});

function startMessage(workflowId: string, offset: number): KafkaMessage {
  const command: Command = {
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "StartWorkflow",
      workflowType: "waiter",
      input: '{"timeoutMs":600000}',
      idempotencyKey: null,
      requestId: workflowId,
    },
  };
  return message(commandCodec.encode(command), offset);
}

/** A record that does not decode: it would go to the DLQ, were the batch committed. */
function undefinedMessage(offset: number): KafkaMessage {
  return message(Buffer.from("not a command"), offset);
}

function message(value: Buffer, offset: number): KafkaMessage {
  return {
    key: null,
    value,
    headers: { ...commandCodec.headers },
    offset: String(offset),
    timestamp: String(Date.now()),
    attributes: 0,
    size: 0,
  } as unknown as KafkaMessage;
}

describe("a changelog that cannot be read once a retention cut history (Kafka)", () => {
  it("is read again, never replaced by the part of history that is left", async () => {
    const config = isolatedConfig({ commandPartitions: 1 });
    const kafka = kafkaFor(config);
    const logger = testLogger(config);
    const faults = new FaultPoints();
    const decisionLog = kafkaDecisionLog(kafka, config);
    const decider = new Decider({ config, kafka, decisionLog, logger, workflows, faults });
    let client: WeftClient | undefined;
    const admin = kafka.admin();
    try {
      await decider.start();
      await decider.ready();
      client = await WeftClient.connect({ config, logger, transport: kafka });
      const connected = client;
      const { workflowId } = await connected.start(waiter, {
        workflowId: "cut-1",
        input: { timeoutMs: 600_000 },
      });
      await waitFor("the run to wait for its signal", async () =>
        types(await connected.getHistory(workflowId)).includes("SignalWaitStarted"),
      );
      // A retention removes the run's first events: history now starts after its start.
      await admin.connect();
      const topic = topics.history(config);
      const [end] = await admin.fetchTopicOffsets(topic);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: end!.high }] });
      // The signal's decision fails to commit; the reopen's first changelog read stalls.
      faults
        .fail("decider.commit", 1)
        .fail("decider.changelog-read", 1, () => new ReadStalledError("runs", "0@0"));
      await connected.signal(workflowId, "go", { v: 3 });
      // Restored from what is left of history the run would be unknown and the signal dropped.
      expect(await connected.result(workflowId, { timeoutMs: 60_000 })).toEqual({ received: 3 });
      expect(faults.hits("decider.changelog-read")).toBeGreaterThanOrEqual(2);
      expect(decider.partitionsNotReady).toEqual([]);
    } finally {
      await admin.disconnect();
      await client?.close();
      await decider.stop();
    }
  });
});
