import { InvalidInputError } from "../core/errors";
import type { ReadModelDb, ReadModelTables } from "../projections/read-model-db";
import { decodeCursor, encodeCursor } from "./cursor";
import { checkListSize } from "./ops-queries";

/** Reads of the read models (migrations/) for the API: runs and what they hold. */

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

/** A run's row as the API reads it (the read model's columns; see projections/read-model-db.ts). */
export type RunRow = Omit<ReadModelTables["weft_runs"], "buffered_signals">;

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

export async function findRun(db: ReadModelDb, workflowId: string): Promise<RunRow | null> {
  const row = await db.db
    .selectFrom("weft_runs")
    .selectAll()
    .where("workflow_id", "=", workflowId)
    .executeTakeFirst();
  return row ?? null;
}

/** The most children `Workflow.children` lists at once. */
export const MAX_CHILDREN = 500;

/**
 * The runs that `parentId` started as its children (ctx.child), oldest first: at most `first`
 * (clamped to 1..MAX_CHILDREN), through the index of 0009_children_parent.
 */
export async function childrenOf(
  db: ReadModelDb,
  parentId: string,
  first: number,
): Promise<RunRow[]> {
  const limit = Math.min(Math.max(Math.trunc(first), 1), MAX_CHILDREN);
  return db.db
    .selectFrom("weft_runs")
    .selectAll()
    .where("parent_workflow_id", "=", parentId)
    .orderBy("started_at")
    .orderBy("workflow_id")
    .limit(limit)
    .execute();
}

/** The rows of these runs (those that exist), in no particular order. */
export async function findRuns(db: ReadModelDb, workflowIds: readonly string[]): Promise<RunRow[]> {
  if (workflowIds.length === 0) return [];
  return db.db
    .selectFrom("weft_runs")
    .selectAll()
    .where((eb) => db.dialect.inList(eb.ref("workflow_id"), workflowIds))
    .execute();
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
 * The runs a (checked) filter matches, to select from: the one place that turns a filter into
 * SQL, for a page of runs and for the bulk operations' counts and batches alike.
 */
export function filteredRuns(db: ReadModelDb, filter: RunFilter) {
  const { dialect } = db;
  let query = db.db.selectFrom("weft_runs");
  if (filter.status) query = query.where("status", "=", filter.status);
  if (filter.type) query = query.where("workflow_type", "=", filter.type);
  if (filter.from) query = query.where("started_at", ">=", dialect.time(filter.from) as never);
  if (filter.to) query = query.where("started_at", "<", dialect.time(filter.to) as never);
  const text = filter.text;
  if (text) {
    query = query.where((eb) =>
      eb.or([
        dialect.containsText(eb.ref("workflow_id"), text),
        dialect.containsText(eb.ref("workflow_type"), text),
      ]),
    );
  }
  return query;
}

/**
 * A page of runs, newest first, by keyset: `(started_at DESC, workflow_id ASC)` is the order of
 * the runs' indexes, so each page is an index range scan however deep it is.
 */
export async function listRuns(
  db: ReadModelDb,
  filter: RunFilter,
  first: number,
  after: string | null | undefined,
): Promise<RunPage> {
  checkListSize(first, MAX_PAGE_SIZE);
  const { dialect } = db;
  let query = filteredRuns(db, checkFilter(filter)).selectAll();
  if (after) {
    const cursor = decodeCursor(after);
    const at = dialect.time(cursor.startedAtMs) as never;
    query = query
      .where("started_at", "<=", at)
      .where((eb) => eb.or([eb("started_at", "<", at), eb("workflow_id", ">", cursor.workflowId)]));
  }
  const rows = await query
    .orderBy("started_at", "desc")
    .orderBy("workflow_id", "asc")
    .limit(first + 1)
    .execute();
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

export async function stepAttemptsOf(db: ReadModelDb, workflowId: string) {
  return db.db
    .selectFrom("weft_step_attempts")
    .selectAll()
    .where("workflow_id", "=", workflowId)
    .orderBy("step_seq")
    .orderBy("attempt")
    .execute();
}

/** The run's step logs, one row per attempt that logged. */
export async function stepLogsOf(db: ReadModelDb, workflowId: string) {
  return db.db
    .selectFrom("weft_step_logs")
    .select(["step_seq", "attempt", "lines", "dropped"])
    .where("workflow_id", "=", workflowId)
    .execute();
}

export async function timersOf(db: ReadModelDb, workflowId: string) {
  return db.db
    .selectFrom("weft_timers")
    .selectAll()
    .where("workflow_id", "=", workflowId)
    .orderBy("due_at")
    .orderBy("seq")
    .orderBy("kind")
    .orderBy("attempt")
    .execute();
}

export async function signalsOf(db: ReadModelDb, workflowId: string) {
  return db.db
    .selectFrom("weft_signals")
    .selectAll()
    .where("workflow_id", "=", workflowId)
    .orderBy("seq")
    .execute();
}

/** The run's events after `afterSeq` (all by default), in order. */
export async function eventsOf(db: ReadModelDb, workflowId: string, afterSeq = 0) {
  return db.db
    .selectFrom("weft_events")
    .select(["seq", "type", "at", "body"])
    .where("workflow_id", "=", workflowId)
    .where("seq", ">", afterSeq)
    .orderBy("seq")
    .execute();
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
