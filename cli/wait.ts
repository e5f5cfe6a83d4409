/**
 * Waiting for a run to end through the API: a `workflowUpdated` subscription for prompt news,
 * plus a `workflow(id)` query at once (the run may have ended already) and every few seconds
 * (a change stored before the subscription was in place is not missed).
 */
import {
  WeftError,
  WorkflowBlockedError,
  WorkflowCancelledError,
  WorkflowFailedError,
} from "../core/errors";
import { ApiError, type ApiClient } from "./api-client";
import { print, type OutputOptions } from "./output";
import { Progress } from "./progress";
import {
  cancelReason,
  CLOSED_STATUSES,
  describeRunWaiting,
  errorMessage,
  RUN_FIELDS,
  type RunView,
} from "./runs";
import { duration } from "./tables";

export const POLL_MS = 3000;

const RUN_QUERY = `query ($id: String!) { workflow(id: $id) { ${RUN_FIELDS} } }`;
const RUN_UPDATES = `subscription ($filter: WorkflowFilter) { workflowUpdated(filter: $filter) { ${RUN_FIELDS} } }`;

/** A run is done waiting for when it closed, or when it is parked (BLOCKED). */
const isFinal = (run: RunView) => CLOSED_STATUSES.has(run.status) || run.status === "BLOCKED";

export interface WaitOptions {
  timeoutMs: number;
  /** Only a run that started at or after this seq counts (a new run under a closed run's ID). */
  fromRunStartSeq?: number;
  /** Called with every newer view of the run. */
  onUpdate?: (run: RunView) => void;
}

/** Resolves with the run once it completed, failed, was cancelled or is blocked. */
export function waitForRun(
  client: ApiClient,
  workflowId: string,
  options: WaitOptions,
): Promise<RunView> {
  return new Promise<RunView>((resolve, reject) => {
    let last: RunView | undefined;
    let settled = false;
    const unsubscribe = client.subscribe<{ workflowUpdated: RunView }>(
      RUN_UPDATES,
      { filter: { text: workflowId } },
      {
        next: (data) => seen(data.workflowUpdated),
        // A refused subscription is final; a lost WebSocket leaves the queries to carry on.
        error: (err) => {
          if (err instanceof ApiError) settle(err);
        },
      },
    );
    const poll = setInterval(query, POLL_MS);
    const deadline = setTimeout(timedOut, options.timeoutMs);
    query();

    function settle(err: Error | undefined, run?: RunView): void {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearInterval(poll);
      unsubscribe();
      if (err) reject(err);
      else resolve(run!);
    }
    function seen(run: RunView | null | undefined): void {
      if (!run || run.id !== workflowId) return;
      if (last && run.lastSeq < last.lastSeq) return;
      last = run;
      options.onUpdate?.(run);
      if (isFinal(run) && run.runStartSeq >= (options.fromRunStartSeq ?? 0)) settle(undefined, run);
    }
    function query(): void {
      client.request<{ workflow: RunView | null }>(RUN_QUERY, { id: workflowId }).then(
        (data) => seen(data.workflow),
        (err: Error) => settle(err),
      );
    }
    function timedOut(): void {
      const state = last
        ? `is still ${last.status} (waiting on ${describeRunWaiting(last)})`
        : "has not been stored by the projector yet (is it started, and are a decider and a projector running?)";
      settle(
        new WeftError(
          "WAIT_TIMEOUT",
          `workflow ${workflowId} ${state} after ${options.timeoutMs} ms (--timeout); the run itself goes on`,
          {
            workflowId,
            timeoutMs: options.timeoutMs,
          },
        ),
      );
    }
  });
}

/** Waits with progress on stderr, then prints the outcome; a run that did not complete throws. */
export async function waitAndReport(
  client: ApiClient,
  workflowId: string,
  opts: OutputOptions & { timeoutMs: number; fromRunStartSeq?: number },
): Promise<void> {
  let current: RunView | undefined;
  const progress = new Progress(
    `waiting up to ${duration(opts.timeoutMs)} for ${workflowId} to end`,
  ).start(() =>
    current
      ? `${current.status}, waiting on ${describeRunWaiting(current, Date.now())}`
      : "not stored yet",
  );
  let run: RunView;
  try {
    run = await waitForRun(client, workflowId, {
      timeoutMs: opts.timeoutMs,
      fromRunStartSeq: opts.fromRunStartSeq,
      onUpdate: (r) => {
        current = r;
        progress.refresh();
      },
    });
  } finally {
    progress.stop();
  }
  reportOutcome(run, opts);
}

/** Prints a final run: its result when it completed, else throws its error as one coded line. */
export function reportOutcome(run: RunView, opts: OutputOptions): void {
  const took =
    run.closedAt !== null ? Date.parse(run.closedAt) - Date.parse(run.startedAt) : undefined;
  if (run.status === "COMPLETED") {
    print(
      { workflowId: run.id, status: run.status, result: run.result },
      opts,
      () => `${run.id} completed in ${duration(took)}: ${JSON.stringify(run.result ?? null)}`,
    );
    return;
  }
  // --json still prints one document on stdout; the error line goes to stderr.
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ workflowId: run.id, status: run.status, error: run.error, blockedCode: run.blockedCode, blockedReason: run.blockedReason })}\n`,
    );
  }
  if (run.status === "FAILED") throw new WorkflowFailedError(run.id, errorMessage(run.error));
  if (run.status === "CANCELLED") throw new WorkflowCancelledError(run.id, cancelReason(run.error));
  throw new WorkflowBlockedError(
    run.id,
    run.blockedCode ?? "UNKNOWN",
    run.blockedReason ?? "no reason recorded",
  );
}
