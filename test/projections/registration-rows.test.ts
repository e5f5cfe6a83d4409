/**
 * Rows of the registration side: the pure folds of registrations and start commands, and, in a
 * real PostgreSQL, that a pending run and its history give the same row in either order.
 */
import type { Pool } from "pg";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { definitionHash, stableJson } from "../../producers/registration-publisher";
import { createPool } from "../../projections/database";
import { foldEvents } from "../../projections/fold-events";
import { foldRegistrations } from "../../projections/fold-registrations";
import { foldStarts } from "../../projections/fold-starts";
import { migrate } from "../../projections/migrate";
import { insertPendingRuns, insertRuns, loadRunStates } from "../../projections/tables/runs";
import type { Command, HistoryEvent, Registration } from "../../schemas/types";
import { createTestSchema, type TestSchema } from "../support/postgres";

const log = createLogger("silent");
const T0 = Date.parse("2025-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function beat(overrides: Partial<Registration> = {}): Registration {
  return {
    processId: "p1",
    roles: ["decider", "worker"],
    host: "h",
    pid: 42,
    startedAt: T0,
    at: T0,
    intervalMs: 1000,
    state: "up",
    workflows: [{ name: "wf", hash: "w1", taskQueue: null, retry: null, timeoutMs: null }],
    steps: [{ name: "st", hash: "s1", taskQueue: "default", retry: '{"a":1}', timeoutMs: 5 }],
    queues: ["default"],
    inFlight: 0,
    concurrency: 8,
    ...overrides,
  };
}

describe("foldRegistrations", () => {
  it("keeps each process's last beat and each version's earliest and latest sighting", () => {
    const { processes, definitions } = foldRegistrations([
      beat({ at: T0 + 2000, inFlight: 3 }),
      beat({ processId: "p2", at: T0 + 500, roles: ["decider"], steps: [] }),
      // Clocks differ between processes: first seen is the earliest, whatever the order.
      beat({ at: T0 + 1000, state: "stopped" }),
    ]);
    expect(processes.map((p) => [p.process_id, p.last_seen, p.stopped_at, p.in_flight])).toEqual([
      ["p2", iso(500), null, 0],
      ["p1", iso(1000), iso(1000), 0],
    ]);
    expect(processes[1]).toMatchObject({
      workflows: ["wf"],
      steps: ["st"],
      definitions: ["workflow/wf/w1", "step/st/s1"],
      started_at: iso(0),
      interval_ms: 1000,
    });
    expect(
      definitions.map((d) => [d.kind, d.name, d.hash, d.first_seen, d.last_seen, d.timeout_ms]),
    ).toEqual([
      ["workflow", "wf", "w1", iso(500), iso(2000), null],
      ["step", "st", "s1", iso(1000), iso(2000), 5],
    ]);
  });

  it("refuses a beat whose time is out of range, so the batch goes record by record", () => {
    expect(() => foldRegistrations([beat({ at: 9e15 })])).toThrow(RangeError);
  });
});

describe("definitionHash", () => {
  it("depends on the code and the options, not on the order of option keys", () => {
    const fn = (x: number) => x + 1;
    const a = definitionHash(fn, { retry: { maximumAttempts: 2, backoff: "fixed" } });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(definitionHash(fn, { retry: { backoff: "fixed", maximumAttempts: 2 } })).toBe(a);
    expect(definitionHash(fn, { retry: { backoff: "fixed", maximumAttempts: 3 } })).not.toBe(a);
    expect(definitionHash((x: number) => x + 2, { retry: { maximumAttempts: 2 } })).not.toBe(a);
    expect(stableJson({ b: 1, a: [{ d: 1, c: undefined }] })).toBe('{"a":[{"d":1}],"b":1}');
  });
});

const start = (workflowId: string, sentAt: number, input = "{}"): Command => ({
  workflowId,
  sentAt,
  body: {
    type: "StartWorkflow",
    workflowType: "wf",
    input,
    idempotencyKey: null,
    requestId: `r-${sentAt}`,
  },
});

describe("foldStarts", () => {
  it("makes one pending run per started workflow, the first start winning; ignores the rest", () => {
    const rows = foldStarts([
      start("a", T0, '{"n":1}'),
      {
        workflowId: "a",
        sentAt: T0,
        body: { type: "CancelWorkflow", reason: null, requestId: "x" },
      },
      start("a", T0 + 5, '{"n":2}'),
      start("b", T0 + 7),
    ]);
    expect(rows.map((r) => [r.workflow_id, r.status, r.started_at, r.last_seq])).toEqual([
      ["a", "pending", iso(0), 0],
      ["b", "pending", iso(7), 0],
    ]);
  });
});

describe("pending runs and history commute", () => {
  let db: TestSchema;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestSchema();
    pool = createPool(loadConfig({ databaseUrl: db.databaseUrl }), log);
    await migrate(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const started = (workflowId: string): HistoryEvent => ({
    workflowId,
    seq: 1,
    at: T0 + 100,
    body: {
      type: "WorkflowStarted",
      workflowType: "wf",
      input: '{"n":1}',
      idempotencyKey: null,
      requestId: "r",
    },
  });

  async function projectHistory(workflowId: string): Promise<void> {
    const loaded = await loadRunStates(pool, [workflowId]);
    await insertRuns(pool, foldEvents(loaded, [started(workflowId)], log).runInserts);
  }

  async function row(workflowId: string): Promise<Record<string, unknown>> {
    const { rows } = await pool.query<Record<string, unknown>>(
      "SELECT * FROM weft_runs WHERE workflow_id = $1",
      [workflowId],
    );
    return { ...rows[0], workflow_id: "x" };
  }

  it("gives the same row whether the start command or history is projected first", async () => {
    expect(await insertPendingRuns(pool, foldStarts([start("cmd-first", T0, '{"n":1}')]))).toEqual([
      "cmd-first",
    ]);
    expect(await row("cmd-first")).toMatchObject({ status: "pending", last_seq: 0 });
    await projectHistory("cmd-first");

    await projectHistory("history-first");
    expect(
      await insertPendingRuns(pool, foldStarts([start("history-first", T0, '{"n":1}')])),
    ).toEqual([]);

    expect(await row("cmd-first")).toEqual(await row("history-first"));
    expect(await row("history-first")).toMatchObject({
      status: "running",
      last_seq: 1,
      started_at: new Date(T0 + 100),
    });
  });
});
