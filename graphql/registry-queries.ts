import type { Queryable } from "../projections/database";

/**
 * Reads of the registration read models (migrations/0003_registration.sql) for the API. A
 * process is ALIVE while its last beat is less than three of its own intervals old (by the
 * database's clock), STOPPED once it said goodbye, and STALE otherwise.
 */

/** Missed beats after which a process counts as stale. */
export const STALE_AFTER_BEATS = 3;

/** The live feed of registered processes (the `workers` subscription). */
export const WORKERS_FEED = "workers";

const alive = (p: string) =>
  `(${p}.stopped_at IS NULL AND ` +
  `${p}.last_seen >= now() - ${p}.interval_ms * ${STALE_AFTER_BEATS} * interval '1 millisecond')`;

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
  db: Queryable,
  includeStopped: boolean,
): Promise<ProcessRecord[]> {
  const { rows } = await db.query<ProcessRecord>(
    `SELECT p.process_id, p.roles, p.host, p.pid, p.queues, p.workflows, p.steps, p.in_flight,
            p.concurrency, p.started_at, p.last_seen, p.stopped_at,
            CASE WHEN p.stopped_at IS NOT NULL THEN 'STOPPED'
                 WHEN ${alive("p")} THEN 'ALIVE'
                 ELSE 'STALE' END AS status
       FROM weft_processes AS p
      WHERE $1::boolean OR p.stopped_at IS NULL
      ORDER BY p.started_at DESC, p.process_id`,
    [includeStopped],
  );
  return rows;
}

/** Every registered version, with the alive processes that host it. */
export async function listDefinitions(
  db: Queryable,
  kind: "workflow" | "step" | null,
): Promise<DefinitionRecord[]> {
  const { rows } = await db.query<DefinitionRecord>(
    `SELECT d.kind, d.name, d.hash, d.task_queue, d.retry, d.timeout_ms, d.first_seen,
            d.last_seen,
            ARRAY(SELECT p.process_id FROM weft_processes AS p
                   WHERE d.kind || '/' || d.name || '/' || d.hash = ANY(p.definitions)
                     AND ${alive("p")}
                   ORDER BY p.process_id) AS hosts
       FROM weft_definitions AS d
      WHERE $1::text IS NULL OR d.kind = $1
      ORDER BY d.kind DESC, d.name, d.last_seen DESC, d.hash`,
    [kind],
  );
  return rows;
}

/** Whether any decider ever registered this workflow type (any version). */
export async function isWorkflowTypeRegistered(db: Queryable, type: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM weft_definitions WHERE kind = 'workflow' AND name = $1) AS found`,
    [type],
  );
  return rows[0]?.found === true;
}

/** Whether an alive decider hosts this workflow type now. */
export async function hasLiveDecider(db: Queryable, type: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM weft_processes AS p
                     WHERE 'decider' = ANY(p.roles) AND $1 = ANY(p.workflows)
                       AND ${alive("p")}) AS found`,
    [type],
  );
  return rows[0]?.found === true;
}
