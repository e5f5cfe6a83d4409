import { sql, type ExpressionBuilder } from "kysely";
import type { ReadModelDb, ReadModelTables } from "../projections/read-model-db";

/**
 * Reads of the registration read models (migrations/0003_registration.sql) for the API. A
 * process is ALIVE while its last beat is less than three of its own intervals old (by the
 * database's clock), STOPPED once it said goodbye, and STALE otherwise.
 */

/** Missed beats after which a process counts as stale. */
export const STALE_AFTER_BEATS = 3;

/** The live feed of registered processes (the `workers` subscription). */
export const WORKERS_FEED = "workers";

type ProcessScope = ExpressionBuilder<
  ReadModelTables & { p: ReadModelTables["weft_processes"] },
  "p"
>;

/** Whether process `p` is alive: no goodbye, and a beat within three of its intervals. */
const alive = (db: ReadModelDb, eb: ProcessScope) =>
  eb.and([
    eb("p.stopped_at", "is", null),
    db.dialect.withinMsOfNow(eb.ref("p.last_seen"), eb("p.interval_ms", "*", STALE_AFTER_BEATS)),
  ]);

export type ProcessStatus = "ALIVE" | "STALE" | "STOPPED";

export interface ProcessRecord {
  process_id: string;
  roles: string[];
  host: string;
  pid: number;
  queues: string[];
  workflows: string[];
  steps: string[];
  in_flight: number;
  concurrency: number | null;
  started_at: Date;
  last_seen: Date;
  stopped_at: Date | null;
  status: ProcessStatus;
}

export interface DefinitionRecord {
  kind: "workflow" | "step";
  /** Open runs (running or blocked) that started under this version; 0 for steps. */
  open_runs: number | string;
  name: string;
  hash: string;
  task_queue: string | null;
  retry: unknown;
  timeout_ms: string | null;
  first_seen: Date;
  last_seen: Date;
  hosts: string[];
}

/** Registered processes, newest first; stopped ones only when asked. */
export async function listProcesses(
  db: ReadModelDb,
  includeStopped: boolean,
): Promise<ProcessRecord[]> {
  let query = db.db
    .selectFrom("weft_processes as p")
    .select((eb) => [
      "p.process_id",
      "p.roles",
      "p.host",
      "p.pid",
      "p.queues",
      "p.workflows",
      "p.steps",
      "p.in_flight",
      "p.concurrency",
      "p.started_at",
      "p.last_seen",
      "p.stopped_at",
      eb
        .case()
        .when("p.stopped_at", "is not", null)
        .then("STOPPED")
        .when(alive(db, eb))
        .then("ALIVE")
        .else("STALE")
        .end()
        .as("status"),
    ]);
  if (!includeStopped) query = query.where("p.stopped_at", "is", null);
  const rows = await query.orderBy("p.started_at", "desc").orderBy("p.process_id").execute();
  return rows as ProcessRecord[];
}

/** Every registered version, with the alive processes that host it. */
export async function listDefinitions(
  db: ReadModelDb,
  kind: "workflow" | "step" | null,
): Promise<DefinitionRecord[]> {
  const { dialect } = db;
  let query = db.db.selectFrom("weft_definitions as d").select((eb) => [
    "d.kind",
    "d.name",
    "d.hash",
    "d.task_queue",
    "d.retry",
    "d.timeout_ms",
    "d.first_seen",
    "d.last_seen",
    dialect
      .arrayOf(
        eb
          .selectFrom("weft_processes as p")
          .select("p.process_id")
          .where((p) =>
            p.and([
              dialect.arrayHas(
                p.ref("p.definitions"),
                sql`${p.ref("d.kind")} || '/' || ${p.ref("d.name")} || '/' || ${p.ref("d.hash")}`,
              ),
              alive(db, p),
            ]),
          )
          .orderBy("p.process_id"),
        "process_id",
      )
      .as("hosts"),
    // One count per row, from weft_runs_open_by_version (0008); a step has no runs.
    eb
      .selectFrom("weft_runs as r")
      .select((r) => r.fn.countAll().as("n"))
      .where((r) =>
        r.and([
          r("d.kind", "=", "workflow"),
          r("r.workflow_type", "=", r.ref("d.name")),
          r("r.definition_hash", "=", r.ref("d.hash")),
          r("r.status", "in", ["running", "blocked"]),
        ]),
      )
      .as("open_runs"),
  ]);
  if (kind !== null) query = query.where("d.kind", "=", kind);
  const rows = await query
    .orderBy("d.kind", "desc")
    .orderBy("d.name")
    .orderBy("d.last_seen", "desc")
    .orderBy("d.hash")
    .execute();
  return rows as DefinitionRecord[];
}

/** Whether any decider ever registered this workflow type (any version). */
export async function isWorkflowTypeRegistered(db: ReadModelDb, type: string): Promise<boolean> {
  const row = await db.db
    .selectFrom("weft_definitions")
    .select("name")
    .where("kind", "=", "workflow")
    .where("name", "=", type)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether an alive decider hosts this workflow type now. */
export async function hasLiveDecider(db: ReadModelDb, type: string): Promise<boolean> {
  const { dialect } = db;
  const row = await db.db
    .selectFrom("weft_processes as p")
    .select("p.process_id")
    .where((eb) =>
      eb.and([
        dialect.arrayHas(eb.ref("p.roles"), "decider"),
        dialect.arrayHas(eb.ref("p.workflows"), type),
        alive(db, eb),
      ]),
    )
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
