/**
 * The deciders' changelog (weft.runs) across an upgrade and restarts: a decider that finds no
 * changelog restores from history once and writes it; the next one restores from the
 * changelog alone, with the same open runs, and closed runs stay closed.
 */
import { topics } from "../../core/config";
import { readPartitions } from "../../transport/history-reader";
import { createKafka } from "../../adapters/kafka/client";
import { createLogger } from "../../core/logger";
import { closeFixtures, longRun, steps, tally, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { expectGapless, types } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
let weft: TestWeft;
const children: RoleProcess[] = [];
const INFO = { WEFT_LOG_LEVEL: "info" };

beforeAll(async () => {
  weft = await startTestWeft(config, { roles: ["worker"], steps });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill9()));
  await weft.stop();
  await closeFixtures();
});

/** Where each partition's restore read from, as the decider logged it. */
function restoredFrom(decider: RoleProcess): string[] {
  return decider
    .output()
    .split("\n")
    .filter((line) => line.includes('"partition restored"'))
    .map((line) => (JSON.parse(line) as { from: string }).from);
}

async function decider(): Promise<RoleProcess> {
  const child = await spawnRoles(config, "decider", INFO);
  children.push(child);
  return child;
}

it("builds the changelog from history once, then restores open runs from it alone", async () => {
  const first = await decider();
  const chains = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      weft.client.start(threeSteps, { input: { n: i }, workflowId: `up-chain-${i}` }),
    ),
  );
  const waiting = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      weft.client.start(tally, { input: {}, workflowId: `up-tally-${i}` }),
    ),
  );
  await Promise.all(chains.map(({ workflowId }) => weft.client.result(workflowId)));
  for (const { workflowId } of waiting) {
    await weft.client.signal(workflowId, "add", { n: 1 });
  }
  await waitFor("every tally run saw its first signal and waits again", async () => {
    for (const { workflowId } of waiting) {
      const seen = types(await weft.client.getHistory(workflowId));
      if (seen.filter((t) => t === "SignalWaitStarted").length < 2) return false;
    }
    return true;
  });
  expect(restoredFrom(first).length).toBe(config.commandPartitions);
  await first.kill9();

  // An engine from before the changelog: history only.
  const kafka = createKafka(config, createLogger("silent"));
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topics.changelog(config)] });
  await waitFor(
    "the changelog gone",
    async () => !(await admin.listTopics()).includes(topics.changelog(config)),
  );
  await admin.disconnect();

  const upgraded = await decider();
  await waitFor(
    "every partition restored",
    () => restoredFrom(upgraded).length === config.commandPartitions,
  );
  expect(restoredFrom(upgraded)).toEqual(Array(config.commandPartitions).fill("history"));
  expect(upgraded.output()).toContain("changelog built from history");
  // The open runs go on where they were.
  await weft.client.signal(waiting[0]!.workflowId, "add", { n: 2 });
  await waitFor("the second signal recorded", async () => {
    const seen = types(await weft.client.getHistory(waiting[0]!.workflowId));
    return seen.filter((t) => t === "SignalWaitStarted").length >= 3;
  });
  await upgraded.kill9();

  const next = await decider();
  await waitFor(
    "every partition restored",
    () => restoredFrom(next).length === config.commandPartitions,
  );
  expect(restoredFrom(next)).toEqual(Array(config.commandPartitions).fill("changelog"));
  for (const { workflowId } of waiting) {
    await weft.client.signal(workflowId, "add", { done: true });
  }
  const results = await Promise.all(
    waiting.map(({ workflowId }) => weft.client.result(workflowId, { timeoutMs: 60_000 })),
  );
  expect(results).toEqual(waiting.map((_, i) => ({ seen: i === 0 ? [1, 2] : [1] })));

  // Closed runs stayed closed through both restores: each started and completed once.
  for (const { workflowId } of [...chains, ...waiting]) {
    const history = await weft.client.getHistory(workflowId);
    expectGapless(history);
    expect(types(history).filter((t) => t === "WorkflowStarted")).toHaveLength(1);
    expect(types(history).filter((t) => t === "WorkflowCompleted")).toHaveLength(1);
  }
  await next.kill9();
});

it("restores a run whose history spans several changelog chunks, and carries it on", async () => {
  const first = await decider();
  // 25 steps of 2 × 4 kB each: about 200 kB of history before the wait, several 64 kB chunks.
  const { workflowId } = await weft.client.start(longRun, {
    input: { steps: 25, pad: 4000 },
    workflowId: "long-run",
  });
  await waitFor("the run waiting for its signal", async () =>
    types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
  );
  await first.kill9();
  // The changelog holds the run's sealed chunks, each a record of its own.
  const keys = new Set<string>();
  await readPartitions(
    createKafka(config, createLogger("silent")),
    topics.changelog(config),
    Array.from({ length: config.commandPartitions }, (_, p) => p),
    (_, message) => keys.add(message.key?.toString("utf8") ?? ""),
  );
  expect([...keys].filter((k) => k.startsWith(`${workflowId}\u0000`)).length).toBeGreaterThan(1);
  const next = await decider();
  await waitFor(
    "every partition restored",
    () => restoredFrom(next).length === config.commandPartitions,
  );
  await weft.client.signal(workflowId, "finish", {});
  expect(await weft.client.result(workflowId, { timeoutMs: 90_000 })).toEqual({
    total: 2 * ((25 * 24) / 2),
  });
  const history = await weft.client.getHistory(workflowId);
  expectGapless(history);
  expect(types(history).filter((t) => t === "StepCompleted")).toHaveLength(50);
});
