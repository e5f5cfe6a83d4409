/**
 * What a client reads of history does not grow with the runs history holds: it follows
 * `weft.history` from where the partitions end as it connects, and reads a run begun before
 * from that run's own partition when asked for it. Runs started before it connected, after,
 * and never, on the real broker.
 */
import { topics } from "../../core/config";
import { RunClosedError, RunNotFoundError, WaitTimeoutError } from "../../core/errors";
import { WeftClient } from "../../sdk/client";
import { HistoryTail } from "../../transport/history-tail";
import { partitionForKey } from "../../transport/partitioning";
import type { KafkaPort, TopicReadOptions } from "../../transport/port";
import { topicReader } from "../../transport/topic-reader";
import { approval, closeFixtures, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { count, expectGapless, types } from "../support/history";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
const logger = testLogger(config);
const history = topics.history(config);
let weft: TestWeft;
const before: string[] = [];
let waiting: string;

beforeAll(async () => {
  weft = await startTestWeft(config, { workflows: [threeSteps, approval], steps });
  const started = await Promise.all(
    Array.from({ length: 12 }, (_, n) => weft.client.start(threeSteps, { input: { n } })),
  );
  for (const { workflowId } of started) {
    await weft.client.result(workflowId);
    before.push(workflowId);
  }
  ({ workflowId: waiting } = await weft.client.start(approval, { input: { timeoutMs: 600_000 } }));
  // Settled: it waits on its signal (and its timeout) and writes nothing until one comes.
  await waitFor("the approval run to wait", async () =>
    types(await weft.client.getHistory(waiting)).includes("SignalWaitStarted"),
  );
});

afterAll(async () => {
  await weft?.stop();
  await closeFixtures();
});

it("reads only the partition of a run asked for that began before it, and that run whole", async () => {
  const tail = new HistoryTail(weft.transport, history, logger, { from: "now" });
  try {
    await tail.beginAtEnds();
    await tail.catchUp();
    expect(tail.workflowIds).toEqual([]);

    const [old] = before;
    const events = await tail.eventsOf(old!);
    expectGapless(events);
    expect(count(events, "WorkflowCompleted")).toBe(1);
    // Of the partition read, the run asked for and the runs still open are kept (a client
    // asking for one such run often asks for more that wait); closed runs nobody asked for
    // are not, and the other partition's runs were not read.
    const partition = partitionForKey(history, old!, 2);
    const inPartition = (id: string) => partitionForKey(history, id, 2) === partition;
    const expected = [old!, ...(inPartition(waiting) ? [waiting] : [])];
    expect(tail.workflowIds.sort()).toEqual(expected.sort());
    const sibling = before.find((id) => id !== old && inPartition(id));
    expect(sibling).toBeDefined();
    expectGapless(await tail.eventsOf(sibling!));
    const elsewhere = before.find((id) => !inPartition(id))!;
    expect(tail.workflowIds).not.toContain(elsewhere);
    expectGapless(await tail.eventsOf(elsewhere));
    expect(await tail.eventsOf("never-started")).toEqual([]);

    // A run started after the tail began is read from its first event, with no lookup.
    const { workflowId } = await weft.client.start(threeSteps, { input: { n: 99 } });
    await weft.client.result(workflowId);
    await tail.catchUp();
    expect(types(tail.events(workflowId))[0]).toBe("WorkflowStarted");
    expect(count(tail.events(workflowId), "WorkflowCompleted")).toBe(1);
  } finally {
    await tail.close();
  }
});

it("answers many asks for runs begun before it at once, each whole", async () => {
  const tail = new HistoryTail(weft.transport, history, logger, { from: "now" });
  try {
    await tail.beginAtEnds();
    const answers = await Promise.all([...before, waiting].map((id) => tail.eventsOf(id)));
    for (const events of answers) expectGapless(events);
    expect(answers.map((events) => count(events, "WorkflowCompleted"))).toEqual([
      ...before.map(() => 1),
      0,
    ]);
    expect(types(answers[answers.length - 1]!)).toContain("SignalWaitStarted");
  } finally {
    await tail.close();
  }
});

it("lets closed runs go past its bound and reads them again whole when asked", async () => {
  const tail = new HistoryTail(weft.transport, history, logger, {
    from: "now",
    maxRuns: 3,
  });
  try {
    await tail.beginAtEnds();
    const started = await Promise.all(
      Array.from({ length: 10 }, (_, n) => weft.client.start(threeSteps, { input: { n } })),
    );
    for (const { workflowId } of started) await weft.client.result(workflowId);
    await tail.catchUp();
    expect(tail.workflowIds.length).toBeLessThanOrEqual(3);
    for (const { workflowId } of started) {
      const events = await tail.eventsOf(workflowId);
      expectGapless(events);
      expect(count(events, "WorkflowCompleted")).toBe(1);
    }
  } finally {
    await tail.close();
  }
});

it("a client connected later waits on, signals and refuses runs as one that saw them begin", async () => {
  const client = await WeftClient.connect({ config, logger, transport: weft.transport });
  try {
    const [old] = before;
    expect(await client.result(old!)).toEqual(await weft.client.result(old!));
    expectGapless(await client.getHistory(old!));
    await expect(client.signal(old!, "approve", {})).rejects.toBeInstanceOf(RunClosedError);
    await expect(client.signal("never-started", "approve", {})).rejects.toBeInstanceOf(
      RunNotFoundError,
    );
    // A run begun before the client, waiting for a signal: found, signalled, waited on.
    await client.signal(waiting, "approve", { approvedBy: "a later client" });
    expect(await client.result(waiting, { timeoutMs: 30_000 })).toEqual({
      approved: true,
      by: "a later client",
    });
    expect(count(await client.getHistory(waiting), "SignalReceived")).toBe(1);
  } finally {
    await client.close();
  }
});

/** The transport, with every topic read begun through it noted in `reads`. */
function notingReads(transport: KafkaPort, reads: TopicReadOptions[]): KafkaPort {
  const reader = topicReader(transport);
  return new Proxy(transport, {
    get(target, key, receiver) {
      if (key === "topicReader")
        return () => ({
          follow: (options: TopicReadOptions) => {
            reads.push(options);
            return reader.follow(options);
          },
        });
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
}

it("waits on runs it started from their first events, reading no partition whole", async () => {
  // History holds runs on every partition; then the client asks for the runs it starts before
  // any decider has taken them (its deciders start after it asked), as when it asks at once.
  const later = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
  let engine = await startTestWeft(later, { workflows: [threeSteps], steps });
  const earlier: string[] = [];
  try {
    for (
      let n = 0;
      new Set(earlier.map((id) => partitionForKey(topics.history(later), id, 2))).size < 2;
      n++
    ) {
      const { workflowId } = await engine.client.start(threeSteps, { input: { n } });
      await engine.client.result(workflowId);
      earlier.push(workflowId);
    }
  } finally {
    await engine.stop();
  }
  const reads: TopicReadOptions[] = [];
  const client = await WeftClient.connect({
    config: later,
    logger,
    transport: notingReads(kafkaFor(later), reads),
  });
  const wholeReads = () =>
    reads.filter((r) => r.topic === topics.history(later) && r.from === "beginning");
  try {
    const started = await Promise.all(
      [1, 2, 3].map((n) => client.start(threeSteps, { input: { n } })),
    );
    const results = Promise.all(started.map(({ workflowId }) => client.result(workflowId)));
    engine = await startTestWeft(later, { workflows: [threeSteps], steps });
    expect(await results).toEqual([{ n: 4 }, { n: 5 }, { n: 6 }]);
    for (const { workflowId } of started) expectGapless(await client.getHistory(workflowId));
    expect(wholeReads()).toEqual([]);
    // A run begun before it connected is read from its partition, as before.
    await client.result(earlier[0]!);
    expect(wholeReads()).toHaveLength(1);
  } finally {
    await client.close();
    await engine.stop();
  }
});

it("keeps to the timeout asked for a run it started that no decider takes", async () => {
  const idle = isolatedConfig({ commandPartitions: 2, taskPartitions: 2 });
  // The topics exist (an engine ran once); no decider runs now.
  await (await startTestWeft(idle, { workflows: [threeSteps], steps })).stop();
  const client = await WeftClient.connect({ config: idle, logger, transport: kafkaFor(idle) });
  try {
    const { workflowId } = await client.start(threeSteps, { input: { n: 1 } });
    const timeoutMs = 1_500;
    const asked = Date.now();
    await expect(client.result(workflowId, { timeoutMs })).rejects.toBeInstanceOf(WaitTimeoutError);
    // Waiting for the start to be applied used the whole timeout; the wait for the run's end
    // must not begin a second one (it did: about twice the timeout).
    expect(Date.now() - asked).toBeLessThan(timeoutMs * 1.6);
  } finally {
    await client.close();
  }
});
