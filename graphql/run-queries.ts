import type { Queryable } from "../projections/database";
import { InvalidInputError } from "../core/errors";
import { decodeCursor, encodeCursor } from "./cursor";

/** Reads of the PostgreSQL read models (migrations/) for the API: runs and what they hold. */

export const RUN_STATUSES = [
  "pending",
  "running",
  "blocked",
  "completed",
  "failed",
  "cancelled",
] as const;
export const MAX_PAGE_SIZE = 100;
const MAX_FILTER_TEXT = 200;

export interface RunRow {
  workflow_id: string;
  workflow_type: string;
  status: string;
  input: unknown;
  result: unknown;
  error: unknown;
  idempotency_key: string | null;
  blocked_code: string | null;
  blocked_reason: string | null;
  waiting_on: unknown;
  started_at: Date;
  closed_at: Date | null;
  last_seq: number;
  updated_at: Date;
}

export interface RunFilter {
  status?: string | null;
  type?: string | null;
  from?: string | null;
  to?: string | null;
  text?: string | null;
}

export interface RunPage {
  rows: RunRow[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export async function findRun(db: Queryable, workflowId: string): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>("SELECT * FROM weft_runs WHERE workflow_id = $1", [
    workflowId,
  ]);
  return rows[0] ?? null;
}

/** The rows of these runs (those that exist), in no particular order. */
export async function findRuns(db: Queryable, workflowIds: readonly string[]): Promise<RunRow[]> {
  if (workflowIds.length === 0) return [];
  const { rows } = await db.query<RunRow>(
    "SELECT * FROM weft_runs WHERE workflow_id = ANY($1::text[])",
    [workflowIds],
  );
  return rows;
}

/** Checks a filter's values once, so a subscription can apply it to every row it sees. */
export function checkFilter(filter: RunFilter): RunFilter {
  if (filter.text && filter.text.length > MAX_FILTER_TEXT) {
    throw new InvalidInputError(`filter.text is longer than ${MAX_FILTER_TEXT} characters`);
  }
  return {
    ...filter,
    from: filter.from ? isoTime(filter.from, "filter.from") : null,
    to: filter.to ? isoTime(filter.to, "filter.to") : null,
  };
}

/** The filter of `listRuns`, applied to one row (for subscriptions). */
export function runMatches(row: RunRow, filter: RunFilter): boolean {
  if (filter.status && row.status !== filter.status) return false;
  if (filter.type && row.workflow_type !== filter.type) return false;
  const startedAt = row.started_at.getTime();
  if (filter.from && startedAt < Date.parse(filter.from)) return false;
  if (filter.to && startedAt >= Date.parse(filter.to)) return false;
  if (filter.text) {
    const text = filter.text.toLowerCase();
    if (
      !row.workflow_id.toLowerCase().includes(text) &&
      !row.workflow_type.toLowerCase().includes(text)
    ) {
      return false;
    }
  }
  return true;
}

/**
 * A page of runs, newest first, by keyset: `(started_at DESC, workflow_id ASC)` is the order of
 * the runs' indexes, so each page is an index range scan however deep it is.
 */
export async function listRuns(
  db: Queryable,
  filter: RunFilter,
  first: number,
  after: string | null | undefined,
): Promise<RunPage> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`first must be from 1 to ${MAX_PAGE_SIZE}, got ${first}`);
  }
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  filter = checkFilter(filter);
  if (filter.status) where.push(`status = ${param(filter.status)}`);
  if (filter.type) where.push(`workflow_type = ${param(filter.type)}`);
  if (filter.from) where.push(`started_at >= ${param(filter.from)}`);
  if (filter.to) where.push(`started_at < ${param(filter.to)}`);
  if (filter.text) {
    const pattern = param(`%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`(workflow_id ILIKE ${pattern} OR workflow_type ILIKE ${pattern})`);
  }
  if (after) {
    const cursor = decodeCursor(after);
    const at = param(new Date(cursor.startedAtMs).toISOString());
    const id = param(cursor.workflowId);
    where.push(`started_at <= ${at}::timestamptz`);
    where.push(`(started_at < ${at}::timestamptz OR workflow_id > ${id})`);
  }
  const { rows } = await db.query<RunRow>(
    `SELECT * FROM weft_runs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY started_at DESC, workflow_id ASC LIMIT ${param(first + 1)}`,
    values,
  );
  const hasNextPage = rows.length > first;
  const page = hasNextPage ? rows.slice(0, first) : rows;
  const last = page.at(-1);
  return {
    rows: page,
    hasNextPage,
    endCursor: last
      ? encodeCursor({ startedAtMs: last.started_at.getTime(), workflowId: last.workflow_id })
      : null,
  };
}

export async function stepAttemptsOf(db: Queryable, workflowId: string) {
  const { rows } = await db.query<{
    step_seq: number;
    attempt: number;
    step_name: string;
    task_queue: string;
    status: string;
    worker_id: string | null;
    timeout_ms: number | null;
    scheduled_at: Date;
    started_at: Date | null;
    finished_at: Date | null;
    duration_ms: string | null;
    error: unknown;
    result: unknown;
  }>("SELECT * FROM weft_step_attempts WHERE workflow_id = $1 ORDER BY step_seq, attempt", [
    workflowId,
  ]);
  return rows;
}

export async function timersOf(db: Queryable, workflowId: string) {
  const { rows } = await db.query<{
    kind: string;
    seq: number;
    attempt: number;
    due_at: Date;
    fired_at: Date | null;
    status: string;
  }>("SELECT * FROM weft_timers WHERE workflow_id = $1 ORDER BY due_at, seq, kind, attempt", [
    workflowId,
  ]);
  return rows;
}

export async function signalsOf(db: Queryable, workflowId: string) {
  const { rows } = await db.query<{
    seq: number;
    name: string;
    payload: unknown;
    request_id: string | null;
    received_at: Date;
    wait_seq: number | null;
  }>("SELECT * FROM weft_signals WHERE workflow_id = $1 ORDER BY seq", [workflowId]);
  return rows;
}

/** The run's events after `afterSeq` (all by default), in order. */
export async function eventsOf(db: Queryable, workflowId: string, afterSeq = 0) {
  const { rows } = await db.query<{ seq: number; type: string; at: Date; body: unknown }>(
    "SELECT seq, type, at, body FROM weft_events WHERE workflow_id = $1 AND seq > $2 ORDER BY seq",
    [workflowId, afterSeq],
  );
  return rows;
}

function isoTime(text: string, what: string): string {
  const ms = Date.parse(text);
  if (text.length > 64 || Number.isNaN(ms)) {
    throw new InvalidInputError(
      `${what} must be an ISO-8601 time, got ${JSON.stringify(text.slice(0, 64))}`,
    );
  }
  return new Date(ms).toISOString();
}
