/**
 * Schedules through the API on Kafka and PostgreSQL: made, read (next ticks, runs started),
 * paused, refused when invalid or asked by a read-only token, and deleted. Decider, worker,
 * projector and API in one runtime hosting schedules.
 */
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { recordTick, scheduledJob } from "../fixtures/scheduled";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ADMIN = "schedules-admin-token-0123456789";
const READER = "schedules-read-token-0123456789";
let db: TestSchema;
let runtime: Runtime;
let address: string;

interface ScheduleView {
  name: string;
  status: string;
  paused: boolean;
  nextTicks: string[];
  runsStarted: number;
  overlap: string;
  recentRuns: { tick: string; workflowId: string }[];
}

const SCHEDULE_FIELDS =
  "name status paused nextTicks runsStarted overlap recentRuns { tick workflowId }";

const gql = <T>(query: string, variables: Record<string, unknown> = {}, token = ADMIN) =>
  httpGql<T>(address, query, variables, token);

async function scheduleNamed(name: string): Promise<ScheduleView | null> {
  const res = await gql<{ schedule: ScheduleView | null }>(
    `query ($name: String!) { schedule(name: $name) { ${SCHEDULE_FIELDS} } }`,
    { name },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.schedule;
}

beforeAll(async () => {
  db = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  runtime = await startRuntime({
    config,
    logger: testLogger(config),
    roles: ["decider", "worker", "projector", "api"],
    workflows: [scheduledJob],
    steps: [recordTick],
    schedules: true,
    api: { port: 0, tokens: { admin: [ADMIN], read: [READER] } },
  });
  address = runtime.api!.address;
  await waitFor("the schedule workflow's registration", async () => {
    const res = await gql<{ definitions: { name: string }[] }>(
      `{ definitions(kind: WORKFLOW) { name } }`,
    );
    const names = res.data?.definitions.map((d) => d.name) ?? [];
    return names.includes("weft.schedule") && names.includes("scheduledJob");
  });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await db?.drop();
});

it("makes, reads, pauses and deletes a schedule", async () => {
  const made = await gql<{ createSchedule: { name: string; workflowId: string } }>(
    `mutation { createSchedule(name: "gql-every-second", spec: { everyMs: 1000 },
        workflowType: "scheduledJob", overlap: ALLOW) { name workflowId } }`,
  );
  expect(made.errors).toBeUndefined();
  expect(made.data!.createSchedule).toEqual({
    name: "gql-every-second",
    workflowId: "schedule:gql-every-second",
  });

  const running = await waitFor(
    "two runs started, as the read models show",
    async () => {
      const s = await scheduleNamed("gql-every-second");
      return s && s.runsStarted >= 2 ? s : undefined;
    },
    30_000,
  );
  expect(running.status).toBe("RUNNING");
  expect(running.overlap).toBe("ALLOW");
  expect(running.nextTicks).toHaveLength(5);
  expect(running.recentRuns[0]!.workflowId).toBe(`gql-every-second:${running.recentRuns[0]!.tick}`);
  const listed = await gql<{ schedules: { name: string }[] }>(`{ schedules { name } }`);
  expect(listed.data!.schedules.map((s) => s.name)).toContain("gql-every-second");

  const paused = await gql(`mutation { pauseSchedule(name: "gql-every-second") { name } }`);
  expect(paused.errors).toBeUndefined();
  await waitFor("the pause in the read models", async () => {
    const s = await scheduleNamed("gql-every-second");
    return s?.paused === true && s.nextTicks.length === 0;
  });

  const deleted = await gql(`mutation { deleteSchedule(name: "gql-every-second") { name } }`);
  expect(deleted.errors).toBeUndefined();
  await waitFor("the schedule's run completed", async () => {
    const s = await scheduleNamed("gql-every-second");
    return s?.status === "COMPLETED";
  });
  const after = await gql<{ schedules: { name: string }[] }>(`{ schedules { name } }`);
  expect(after.data!.schedules.map((s) => s.name)).not.toContain("gql-every-second");
}, 60_000);

it("refuses an invalid schedule, an unknown workflow type, a read-only token and an unknown schedule", async () => {
  const badCron = await gql(
    `mutation { createSchedule(name: "bad", spec: { cron: "* * * *" }, workflowType: "scheduledJob") { name } }`,
  );
  expect(badCron.errors?.[0]?.extensions?.code).toBe("INVALID_SCHEDULE");
  expect(badCron.errors?.[0]?.message).toMatch(/4 fields/);

  const unknownType = await gql(
    `mutation { createSchedule(name: "typo", spec: { everyMs: 60000 }, workflowType: "scheduledJb") { name } }`,
  );
  expect(unknownType.errors?.[0]?.extensions?.code).toBe("UNKNOWN_WORKFLOW_TYPE");

  const readOnly = await gql(
    `mutation { createSchedule(name: "ro", spec: { everyMs: 60000 }, workflowType: "scheduledJob") { name } }`,
    {},
    READER,
  );
  expect(readOnly.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  const readPause = await gql(`mutation { pauseSchedule(name: "ro") { name } }`, {}, READER);
  expect(readPause.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

  const unknown = await gql(`mutation { pauseSchedule(name: "never-made") { name } }`);
  expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  expect(await scheduleNamed("never-made")).toBeNull();
}, 60_000);
