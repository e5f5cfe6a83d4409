/**
 * Schedules under a real crash, on Kafka: two cron schedules ticking every 2 s on two decider
 * processes; the decider that owns both schedules' runs is killed with SIGKILL mid-way and the
 * other (frozen with SIGSTOP meanwhile, so that no decider owns them for 7 s) takes their
 * partition over. Every tick makes exactly one run; the ticks that passed
 * while no decider owned the schedule are started late when its catch-up window (60 s) covers
 * them, and counted as missed, not started, when it does not (1 s).
 */
import { assignedPartitions } from "../../adapters/kafka/group-assignment";
import { topics } from "../../core/config";
import type { ScheduleState } from "../../sdk";
import { tickWorkflowId } from "../../sdk";
import { partitionForKey } from "../../transport/partitioning";
import { START_RUN_STEP, type StartRunInput } from "../../workflow/schedules/schedule-workflow";
import { compileSpec, scheduleWorkflowId } from "../../workflow/schedules/spec";
import { closeFixtures } from "../fixtures/workflows";
import { recordTick } from "../fixtures/scheduled";
import { isolatedConfig, waitFor } from "../support/env";
import { count, eventsOf, expectGapless } from "../support/history";
import { spawnRoles, type RoleProcess } from "../support/processes";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const config = isolatedConfig();
const kafka = kafkaFor(config);
const SPEC = { cron: "*/2 * * * * *" };
const DOWNTIME_MS = 7000;
let weft: TestWeft;
const deciders: RoleProcess[] = [];

beforeAll(async () => {
  // Workers here: the schedules' steps and the job's step run in this process, never killed.
  weft = await startTestWeft(config, { roles: ["worker"], steps: [recordTick], schedules: true });
});

afterAll(async () => {
  await Promise.all(deciders.map((d) => d.kill9()));
  await weft.stop();
  await closeFixtures();
});

/** The partitions of `weft.commands` the decider process with this pid owns now. */
async function partitionsOf(pid: number): Promise<number[] | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([topics.deciderGroup(config)]);
    const members = groups[0]?.members ?? [];
    if (members.length !== 2) return undefined;
    const mine = members.find((m) => m.clientId.includes(`-${pid}`));
    if (!mine) return undefined;
    const owned = assignedPartitions(mine, topics.commands(config));
    return owned.length > 0 ? owned : undefined;
  } finally {
    await admin.disconnect();
  }
}

/** A schedule name whose run lands on one of `partitions`. */
function nameOn(prefix: string, partitions: number[]): string {
  for (let i = 0; ; i++) {
    const name = `${prefix}${i}`;
    const p = partitionForKey(
      topics.commands(config),
      scheduleWorkflowId(name),
      config.commandPartitions,
    );
    if (partitions.includes(p)) return name;
  }
}

async function stateOf(name: string): Promise<ScheduleState | undefined> {
  return weft.client.getState<ScheduleState>(scheduleWorkflowId(name));
}

/** The ticks whose runs the schedule started, from its own history (every run of the chain). */
async function startedTicks(name: string): Promise<string[]> {
  const history = await weft.client.getHistory(scheduleWorkflowId(name));
  expectGapless(history);
  return eventsOf(history, "StepScheduled")
    .filter((e) => e.body.stepName === START_RUN_STEP && e.body.attempt === 1)
    .map((e) => (JSON.parse(e.body.input) as StartRunInput).workflowId);
}

it("makes exactly one run per tick across a kill -9 of the owning decider, catching up as configured", async () => {
  const victim = await spawnRoles(config, "decider", { WEFT_SCHEDULES: "1" });
  deciders.push(victim);
  const survivor = await spawnRoles(config, "decider", { WEFT_SCHEDULES: "1" });
  deciders.push(survivor);
  const owned = await waitFor("the two deciders to split the partitions", () =>
    partitionsOf(victim.pid),
  );
  const caughtUp = nameOn("catchup", owned);
  const dropped = nameOn("dropped", owned);
  await weft.client.schedules.create({
    name: caughtUp,
    spec: SPEC,
    workflowType: "scheduledJob",
    overlap: "allow",
    catchupWindowMs: 60_000,
  });
  await weft.client.schedules.create({
    name: dropped,
    spec: SPEC,
    workflowType: "scheduledJob",
    overlap: "allow",
    catchupWindowMs: 1000,
  });
  await waitFor(
    "three runs of each schedule",
    async () =>
      ((await stateOf(caughtUp))?.runsStarted ?? 0) >= 3 &&
      ((await stateOf(dropped))?.runsStarted ?? 0) >= 3,
    60_000,
  );

  // The survivor would take the partition over within a second or so: frozen (SIGSTOP) around
  // the kill, it leaves the schedules without an owner for DOWNTIME_MS, several ticks long.
  survivor.child.kill("SIGSTOP");
  await victim.kill9();
  const killedAt = Date.now();
  await waitFor("the downtime to pass", () => Date.now() - killedAt >= DOWNTIME_MS, 30_000, 100);
  survivor.child.kill("SIGCONT");

  // The survivor takes the partition over; both go on ticking.
  await waitFor(
    "three more runs of each schedule after the kill",
    async () => {
      const a = await stateOf(caughtUp);
      const b = await stateOf(dropped);
      const after = (s: ScheduleState | undefined) =>
        (s?.recentRuns ?? []).filter((r) => Date.parse(r.tick) > killedAt).length;
      return after(a) >= 3 && after(b) >= 3;
    },
    120_000,
  );
  await weft.client.schedules.delete(caughtUp);
  await weft.client.schedules.delete(dropped);
  const summaryA = await weft.client.result<{ runsStarted: number; ticksMissed: number }>(
    scheduleWorkflowId(caughtUp),
    { timeoutMs: 30_000 },
  );
  const summaryB = await weft.client.result<{ runsStarted: number; ticksMissed: number }>(
    scheduleWorkflowId(dropped),
    { timeoutMs: 30_000 },
  );

  const clock = compileSpec(SPEC);
  const everyTick = (name: string, ids: string[]) => {
    const first = Date.parse(ids[0]!.slice(name.length + 1));
    const last = Date.parse(ids.at(-1)!.slice(name.length + 1));
    const all: string[] = [];
    for (let t = first; t <= last; t = clock.next(t)!) all.push(tickWorkflowId(name, t));
    return all;
  };

  // 60 s window: every tick from the first to the last has its run, each started once.
  const a = await startedTicks(caughtUp);
  expect(new Set(a).size).toBe(a.length);
  expect(a).toEqual(everyTick(caughtUp, a));
  expect(summaryA).toMatchObject({ runsStarted: a.length, ticksMissed: 0 });
  // Some of them were started late, by the survivor: the ticks of the downtime, caught up.
  let late = 0;
  for (const id of a) {
    const history = await weft.client.getHistory(id);
    expect(count(history, "WorkflowStarted")).toBe(1);
    const tick = Date.parse(id.slice(caughtUp.length + 1));
    if (history[0]!.at - tick > 3000) late++;
  }
  expect(late).toBeGreaterThanOrEqual(2);

  // 1 s window: the ticks of the downtime are missed (counted), never started; the rest ran once.
  const b = await startedTicks(dropped);
  expect(new Set(b).size).toBe(b.length);
  const gaps = everyTick(dropped, b).filter((id) => !b.includes(id));
  expect(gaps.length).toBeGreaterThanOrEqual(2);
  expect(summaryB.ticksMissed).toBe(gaps.length);
  expect(summaryB.runsStarted).toBe(b.length);
  for (const id of b) expect(count(await weft.client.getHistory(id), "WorkflowStarted")).toBe(1);
  for (const id of gaps) expect(await weft.client.getHistory(id)).toEqual([]);
}, 300_000);
