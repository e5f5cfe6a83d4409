/**
 * Operations on every run a filter matches: a dry run counts them (and names a sample), a real
 * one sends each run's own command through the same path a single operation takes, at most
 * `limit` per call. Each run's command carries a request ID derived from the call's and the
 * run's ID, so a retried call (same request ID) is recorded once per run; a run the call left
 * out (past the limit) is there for the next call to take.
 */
import { createHash } from "node:crypto";
import { InvalidInputError, WeftError } from "../core/errors";
import type { ReadModelDb } from "../projections/read-model-db";
import { checkFilter, filteredRuns, type RunFilter } from "./run-queries";

/** Runs one call sends commands for: a limit is checked before anything is read. */
export const MAX_BULK_LIMIT = 1000;
/** IDs a result names as a sample of what matched. */
export const BULK_SAMPLE_SIZE = 20;
/** Commands in flight at once while a call applies its operation. */
const BULK_CONCURRENCY = 16;

/** The statuses of a run that a terminate can still reach. */
export const OPEN_STATUSES = ["pending", "running", "blocked"] as const;

export interface BulkSelection {
  filter: RunFilter;
  /** Only runs still open (a terminate): a closed run is not counted. */
  openOnly: boolean;
  limit: number;
}

export interface BulkItem {
  workflowId: string;
  requestId: string;
  /** The run a re-run started, or null. */
  newWorkflowId: string | null;
  /** The error code this run's command was refused with (e.g. RUN_CLOSED), or null. */
  error: string | null;
}

export interface BulkResult {
  dryRun: boolean;
  /** Runs the filter matches now (those the operation applies to). */
  matched: number;
  /** Up to BULK_SAMPLE_SIZE of them, newest first. */
  sample: string[];
  /** What the call sent, one per run (none in a dry run). */
  applied: BulkItem[];
  /** Matched runs this call did not take (past its limit): call again for them. */
  remaining: number;
  requestId: string;
}

/** Checks the limit and the filter before anything is read. */
export function checkSelection(selection: BulkSelection): BulkSelection {
  const { limit } = selection;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BULK_LIMIT) {
    throw new InvalidInputError(`limit must be from 1 to ${MAX_BULK_LIMIT}, got ${limit}`, {
      limit,
      max: MAX_BULK_LIMIT,
    });
  }
  return { ...selection, filter: checkFilter(selection.filter) };
}

/** How many runs match and the IDs of the first `take` of them, newest first. */
export async function selectRuns(
  db: ReadModelDb,
  selection: BulkSelection,
  take: number,
): Promise<{ matched: number; ids: string[] }> {
  const matching = () => {
    const query = filteredRuns(db, selection.filter);
    return selection.openOnly ? query.where("status", "in", [...OPEN_STATUSES]) : query;
  };
  const counted = await matching()
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirst();
  const rows = await matching()
    .select("workflow_id")
    .orderBy("started_at", "desc")
    .orderBy("workflow_id", "asc")
    .limit(take)
    .execute();
  return { matched: Number(counted?.n ?? 0), ids: rows.map((row) => row.workflow_id) };
}

/** A run's request ID within a bulk call: the same for a retry of the call. */
export function itemRequestId(bulkRequestId: string, workflowId: string): string {
  const digest = createHash("sha256").update(`${bulkRequestId}\u0000${workflowId}`).digest("hex");
  return `bulk-${digest.slice(0, 32)}`;
}

/**
 * Counts (dry run) or applies `operation` to each selected run, a few at a time. A run whose
 * command is refused (it closed meanwhile: RUN_CLOSED) is reported with its code and the
 * others go on; an error that is not a run's own (the broker is gone) fails the call, and a
 * retry with the same request ID does what is left.
 */
export async function runBulk(
  db: ReadModelDb,
  selection: BulkSelection,
  options: { dryRun: boolean; requestId: string },
  operation: (workflowId: string, requestId: string) => Promise<string | null>,
): Promise<BulkResult> {
  const checked = checkSelection(selection);
  const take = options.dryRun ? BULK_SAMPLE_SIZE : checked.limit;
  const { matched, ids } = await selectRuns(db, checked, take);
  const result: BulkResult = {
    dryRun: options.dryRun,
    matched,
    sample: ids.slice(0, BULK_SAMPLE_SIZE),
    applied: [],
    remaining: matched,
    requestId: options.requestId,
  };
  if (options.dryRun) return result;
  for (let i = 0; i < ids.length; i += BULK_CONCURRENCY) {
    const batch = ids.slice(i, i + BULK_CONCURRENCY);
    result.applied.push(
      ...(await Promise.all(
        batch.map(async (workflowId): Promise<BulkItem> => {
          const requestId = itemRequestId(options.requestId, workflowId);
          try {
            const newWorkflowId = await operation(workflowId, requestId);
            return { workflowId, requestId, newWorkflowId, error: null };
          } catch (err) {
            if (!WeftError.is(err) || !RUN_REFUSALS.has(err.code)) throw err;
            return { workflowId, requestId, newWorkflowId: null, error: err.code };
          }
        }),
      )),
    );
  }
  result.remaining = Math.max(0, matched - result.applied.length);
  return result;
}

/** Refusals that concern one run only: the call reports them and goes on with the others. */
const RUN_REFUSALS: ReadonlySet<string> = new Set([
  "NOT_FOUND",
  "RUN_CLOSED",
  "RUN_OPEN",
  "INVALID_INPUT",
  "INVALID_RESET_POINT",
]);
