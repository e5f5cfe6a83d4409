/**
 * Whether a run takes a signal or cancel: asked before the command is produced, by every front
 * end (the API, the SDK client, the test kit) against its own view of the runs, through this
 * one judge. The decider stays the authority (a run that closes between the check and the
 * command still drops it); the check turns the two cases a caller can act on into errors:
 * NOT_FOUND (no start with that ID was acknowledged) and RUN_CLOSED (completed, failed or
 * cancelled).
 *
 * A view is derived from the logs by a consumer of `weft.commands` and lags them: the read
 * models by the projector (which stores its position on every commands partition beside the
 * rows, and writes a pending row for each start it reads), the history by the deciders (whose
 * committed offsets cover only commands whose events are committed). So a view without the run
 * is not yet an answer: a start acknowledged a moment ago may not be in it. The judge then reads
 * the end offset of the run's commands partition, which every command acknowledged before the
 * call sits below, and waits (bounded) until the view's consumer has applied that far:
 *
 * - the view has the run: open (pending, running, blocked) → send; closed → RUN_CLOSED, unless
 *   the closed run recorded this very request (a retry whose first try got through: accepted,
 *   nothing sent again);
 * - the view lacks the run and has applied the partition up to that end offset → NOT_FOUND: a
 *   start acknowledged before the call would be in it;
 * - the view lacks the run and is still behind after `waitMs` → sent unconfirmed, as before this
 *   check existed (the decider drops it if the run is unknown). Never NOT_FOUND while behind.
 */
import type { Backoff } from "../core/backoff";
import { RunClosedError, RunNotFoundError } from "../core/errors";
import type { HistoryEvent } from "../schemas/types";
import { AppliedWaits } from "./applied-waits";
import type { CommandProducer } from "./command-producer";
import type { CommandOf } from "./workflow-commands";

/** A command a caller sends to a run that must exist and be open. */
export type RunCommand = CommandOf<"SignalWorkflow"> | CommandOf<"CancelWorkflow">;

/** A run as a view shows it. */
export interface SeenRun {
  /** pending, running, blocked, completed, failed or cancelled */
  status: string;
  /** Completed, failed or cancelled: it takes no more commands. */
  closed: boolean;
}

/** What a front end knows of the runs, derived from the logs by a consumer of `weft.commands`. */
export interface RunView {
  /**
   * The run as the view shows it, undefined when it has no trace of it. With `fresh`, the view
   * first takes in everything its consumer had committed when `appliedOffset` was last read.
   */
  find(workflowId: string, fresh: boolean): Promise<SeenRun | undefined>;
  /** Whether the (closed) run recorded a signal or cancel with this command's request ID. */
  recorded(command: RunCommand): Promise<boolean>;
  /** The next offset of a partition of `weft.commands` the view's consumer will apply. */
  appliedOffset(partition: number): Promise<bigint>;
}

/** How the judge answers when it does not throw. */
export type RunCheck =
  /** The view shows the run open: send the command. */
  | { kind: "open"; status: string }
  /** The run closed after recording this request: answer as accepted, send nothing. */
  | { kind: "recorded"; status: string }
  /** The view did not catch up within the bound: send it anyway (the decider decides). */
  | { kind: "unconfirmed"; partition: number; applied: bigint; end: bigint };

export interface RunCheckOptions {
  /** How long to wait for the view to catch up with the run's commands partition. */
  waitMs?: number;
  /** Between looks at the view's position; default 10 ms doubling to 100 ms. */
  poll?: Backoff;
  /** Waits shared with the caller's other waits (a client's); by default one of its own. */
  applied?: Pick<AppliedWaits, "until">;
}

/** Long enough for a projector or decider that keeps up; short enough for a caller to wait. */
export const RUN_CHECK_WAIT_MS = 5000;

/**
 * Judges whether the command's run takes it (see the module's comment); throws
 * RunNotFoundError (NOT_FOUND) or RunClosedError (RUN_CLOSED).
 */
export async function checkRun(
  view: RunView,
  commands: Pick<CommandProducer, "partitionEnd" | "partitionFor">,
  command: RunCommand,
  options: RunCheckOptions = {},
): Promise<RunCheck> {
  const { workflowId } = command;
  const seen = await view.find(workflowId, false);
  if (seen) return judgeSeen(view, command, seen);
  const applied = options.applied ?? new AppliedWaits(view, commands, options.poll);
  const wait = await applied.until(workflowId, Date.now() + (options.waitMs ?? RUN_CHECK_WAIT_MS));
  if (!wait.caughtUp) {
    return { kind: "unconfirmed", partition: wait.partition, applied: wait.applied, end: wait.end };
  }
  const now = await view.find(workflowId, true);
  if (!now) throw new RunNotFoundError(workflowId);
  return judgeSeen(view, command, now);
}

/**
 * Checks the run and sends the command when it should go: what `signal` and `cancel` of every
 * front end do. Throws as `checkRun` does, and when the send fails.
 */
export async function sendToRun(
  view: RunView,
  commands: Pick<CommandProducer, "partitionEnd" | "partitionFor" | "send">,
  command: RunCommand,
  options: RunCheckOptions = {},
): Promise<RunCheck> {
  const check = await checkRun(view, commands, command, options);
  if (check.kind !== "recorded") await commands.send(command);
  return check;
}

async function judgeSeen(view: RunView, command: RunCommand, seen: SeenRun): Promise<RunCheck> {
  if (!seen.closed) return { kind: "open", status: seen.status };
  if (await view.recorded(command)) return { kind: "recorded", status: seen.status };
  throw new RunClosedError(command.workflowId, seen.status);
}

/** The run as its history shows it: undefined without events, closed after its closing event. */
export function runOfHistory(events: readonly HistoryEvent[]): SeenRun | undefined {
  const last = events.at(-1);
  if (!last) return undefined;
  switch (last.body.type) {
    case "WorkflowCompleted":
      return { status: "completed", closed: true };
    case "WorkflowFailed":
      return { status: "failed", closed: true };
    case "WorkflowCancelled":
      return { status: "cancelled", closed: true };
    case "WorkflowBlocked":
      return { status: "blocked", closed: false };
    default:
      return { status: "running", closed: false };
  }
}

/**
 * Whether the history holds the signal or cancel carrying this command's request ID. A cancel
 * is recorded by its WorkflowCancelRequested (the run may then close otherwise, its code having
 * caught the cancel) or, before history v5 and for a blocked run, by its WorkflowCancelled.
 */
export function recordedInHistory(events: readonly HistoryEvent[], command: RunCommand): boolean {
  const { requestId } = command.body;
  const recordedTypes: readonly string[] =
    command.body.type === "SignalWorkflow"
      ? ["SignalReceived"]
      : ["WorkflowCancelRequested", "WorkflowCancelled"];
  return events.some(
    (e) =>
      recordedTypes.includes(e.body.type) &&
      (e.body as { requestId?: string | null }).requestId === requestId,
  );
}

/**
 * The view of the SDK client and the test kit: the history, derived by the deciders, whose
 * committed offsets on `weft.commands` cover only commands whose events are committed.
 */
export function historyRunView(options: {
  /**
   * The run's events as read so far; with `fresh`, after reading everything committed to
   * history when it is called.
   */
  events(workflowId: string, fresh: boolean): Promise<readonly HistoryEvent[]>;
  commands: Pick<CommandProducer, "committedOffset">;
  /** The deciders' consumer group. */
  deciderGroup: string;
  /**
   * Where the reader of history stands against what is written (transport/written-end.ts).
   * Absent where a transaction's offsets and history become readable in one step (the
   * embedded log): there the deciders' committed offset is the applied offset as it is.
   */
  history?: HistoryPosition;
}): RunView {
  const { commands, deciderGroup, history } = options;
  const applied = history ? new AppliedThroughHistory(history) : undefined;
  return {
    find: async (workflowId, fresh) => runOfHistory(await options.events(workflowId, fresh)),
    recorded: async (command) =>
      recordedInHistory(await options.events(command.workflowId, false), command),
    appliedOffset: async (partition) => {
      const committed = await commands.committedOffset(deciderGroup, partition);
      return applied ? applied.confirm(partition, committed) : committed;
    },
  };
}

/** A history reader's position on a partition, and where the partition's written records end. */
export interface HistoryPosition {
  readTo(partition: number): bigint;
  writtenEnd(partition: number): Promise<bigint>;
}

/**
 * The deciders' committed offsets on `weft.commands`, each counted as applied once the history
 * reader has read past every history record written when the offset was seen: the transaction
 * that committed the offset wrote its history before, so its events are then read (its commit
 * marker may reach the history partition after the offsets' one). Each look pairs the offset
 * with the written end read after it; a pair is confirmed when the reader reaches its end.
 * Under load a transaction is always open somewhere, so the reader rarely reaches the end of
 * the moment; it does reach the ends of earlier moments, which is what the pairs wait for.
 */
class AppliedThroughHistory {
  private readonly looks = new Map<number, { committed: bigint; end: bigint }[]>();
  private readonly confirmed = new Map<number, bigint>();

  constructor(private readonly history: HistoryPosition) {}

  async confirm(partition: number, committed: bigint): Promise<bigint> {
    const looks = this.looks.get(partition) ?? [];
    this.looks.set(partition, looks);
    let end: bigint | undefined;
    try {
      end = await this.history.writtenEnd(partition);
    } catch {
      // Unknown for now (a leader moving): confirm what earlier looks allow; the caller looks
      // again, and after its bound sends the command unconfirmed, as when behind.
    }
    // The first looks are the first to be confirmed: later ones wait for room.
    if (end !== undefined && looks.length < MAX_LOOKS) looks.push({ committed, end });
    const read = this.history.readTo(partition);
    let best = this.confirmed.get(partition) ?? 0n;
    while (looks.length > 0 && looks[0]!.end <= read) {
      const look = looks.shift()!;
      if (look.committed > best) best = look.committed;
    }
    this.confirmed.set(partition, best);
    return best;
  }
}

const MAX_LOOKS = 64;
