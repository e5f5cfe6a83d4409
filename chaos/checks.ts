/**
 * The verdict of a chaos run: what the logs (weft.history, weft.commands, weft.dlq) and the
 * read models say happened, held against what the API acknowledged. Pure: it takes what was
 * read and returns one row per check, each with its violations and a few example runs.
 */
import type { HistoryEvent } from "../schemas/types";
import { TERMINAL_EVENT_TYPES } from "../schemas/types";

/** A start the API acknowledged. */
export interface StartAck {
  readonly workflowId: string;
  readonly type: string;
  /** When the first call for it was made. */
  readonly sentAt: number;
  readonly ackAt: number;
  readonly api: number;
  readonly tries: number;
}

/** One logical signal the load sent to a run waiting for it. */
export interface SignalSend {
  readonly workflowId: string;
  readonly waitSeq: number;
  /** The wait's deadline (its SignalWaitStarted's dueAt). */
  readonly dueAt: number;
  /** In the payload: tells this signal's SignalReceived from any other. */
  readonly marker: string;
  /** The request ID every call of this signal carried; null when the API takes none. */
  readonly requestId: string | null;
  readonly plan: "prompt" | "late";
  /** When the load saw the wait begin (through the history tail), and the wait's own time. */
  readonly seenAt: number;
  readonly waitAt: number;
  /** HTTP calls made for it (failed ones and deliberate client retries included). */
  calls: number;
  /** When each acknowledgement came back. */
  readonly acks: number[];
}

export interface ReadModelRow {
  readonly status: string;
  readonly lastSeq: number;
}

export interface Evidence {
  readonly starts: readonly StartAck[];
  readonly signals: readonly SignalSend[];
  /** Each run's events in log order, as read from weft.history after the run. */
  readonly histories: ReadonlyMap<string, readonly HistoryEvent[]>;
  /** Whether signalWorkflow takes a request ID (else retried signals are not checked). */
  readonly requestIds: boolean;
  /** weft_runs after the projector caught up; undefined when it could not be read. */
  readonly readModel: ReadonlyMap<string, ReadModelRow> | undefined;
  /** Where each run's first StartWorkflow sits in weft.commands. */
  readonly startCommands: ReadonlyMap<string, { partition: number; offset: bigint }>;
  /** The deciders' committed offset per command partition, after the run. */
  readonly committed: ReadonlyMap<number, bigint>;
  readonly roleStarts: number;
  readonly roleExits: readonly { name: string; pid: number; why: string }[];
  readonly deadLetters: readonly { key: string; reason: string }[];
}

export interface CheckRow {
  readonly check: string;
  /** How many things were checked. */
  readonly count: number;
  /** How many of them broke the rule; "not checked" when the run could not tell. */
  readonly violations: number | "not checked";
  readonly examples: readonly string[];
  /** What kind of violations, or why not checked. */
  readonly note?: string;
}

const EXAMPLES = 3;

class Tally {
  count = 0;
  readonly bad: string[] = [];
  readonly kinds = new Map<string, number>();

  check(ok: boolean, example: () => string, kind?: string): void {
    this.count++;
    if (ok) return;
    this.bad.push(example());
    if (kind) this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
  }

  row(check: string, note?: string): CheckRow {
    const kinds = [...this.kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
    const notes = [kinds.join(", "), note].filter(Boolean).join("; ");
    return {
      check,
      count: this.count,
      violations: this.bad.length,
      examples: this.bad.slice(0, EXAMPLES),
      ...(notes ? { note: notes } : {}),
    };
  }
}

export function runChecks(evidence: Evidence): CheckRow[] {
  const { histories } = evidence;
  const eventsOf = (id: string) => histories.get(id) ?? [];
  const isClosed = (id: string) => eventsOf(id).some((e) => TERMINAL_EVENT_TYPES.has(e.body.type));
  const rows: CheckRow[] = [];

  // Every acknowledged start ran: its run has a WorkflowStarted.
  const ran = new Tally();
  for (const s of evidence.starts) {
    const where = evidence.startCommands.get(s.workflowId);
    const committed = where && evidence.committed.get(where.partition);
    const fate = !where
      ? "not in weft.commands"
      : committed !== undefined && committed > where.offset
        ? "skipped"
        : "not consumed";
    ran.check(
      eventsOf(s.workflowId).some((e) => e.body.type === "WorkflowStarted"),
      () =>
        `${s.workflowId} (acked ${iso(s.ackAt)}; ` +
        (where
          ? `command at p${where.partition}@${where.offset}, deciders committed p${where.partition}@${committed ?? "none"}`
          : "no StartWorkflow in weft.commands") +
        ")",
      fate,
    );
  }
  rows.push(ran.row("acknowledged start ran"));

  // No run open after settling; the open ones by the last thing they did.
  const closed = new Tally();
  for (const [id, events] of histories) {
    if (!events.some((e) => e.body.type === "WorkflowStarted")) continue;
    const last = events[events.length - 1]!;
    closed.check(
      isClosed(id),
      () => `${id} (last: #${last.seq} ${last.body.type})`,
      `last ${last.body.type}`,
    );
  }
  rows.push(closed.row("run closed after settling"));

  // Gapless per-run sequence numbers, one start first, nothing after the close.
  const gapless = new Tally();
  for (const [id, events] of histories) {
    gapless.check(...historyShape(id, events));
  }
  rows.push(gapless.row("history gapless (seq 1..n, start first, nothing after close)"));

  // Exactly one StepCompleted per step.
  const once = new Tally();
  for (const [id, events] of histories) {
    const completed = new Map<number, number>();
    const scheduled = new Set<number>();
    for (const e of events) {
      if (e.body.type === "StepScheduled") scheduled.add(e.body.stepSeq);
      if (e.body.type === "StepCompleted")
        completed.set(e.body.stepSeq, (completed.get(e.body.stepSeq) ?? 0) + 1);
    }
    const done = events.some((e) => e.body.type === "WorkflowCompleted");
    for (const seq of scheduled) {
      const n = completed.get(seq) ?? 0;
      once.check(
        n === 1 || (n === 0 && !done),
        () => `${id} step #${seq} completed ${n}×`,
        n > 1 ? "completed twice" : "never completed in a completed run",
      );
    }
  }
  rows.push(once.row("one StepCompleted per step"));

  // Every timer (sleep, retry backoff, signal timeout) fired at most once, never before due,
  // and a sleep or retry of a closed run fired.
  const timers = new Tally();
  for (const [id, events] of histories) checkTimers(id, events, isClosed(id), timers);
  rows.push(timers.row("timer fired once, never before due"));

  // A signal acknowledged before its wait's deadline was received, not the timeout branch.
  const beforeDeadline = new Tally();
  for (const s of evidence.signals) {
    const firstAck = s.acks[0];
    if (firstAck === undefined || firstAck >= s.dueAt) continue;
    const events = eventsOf(s.workflowId);
    const received = events.some((e) => markerOf(e) === s.marker);
    const timedOut = events.find(
      (e) => e.body.type === "SignalWaitTimedOut" && e.body.waitSeq === s.waitSeq,
    );
    const margin = `${s.dueAt - firstAck} ms before the deadline`;
    beforeDeadline.check(
      received && !timedOut,
      () =>
        timedOut
          ? `${s.workflowId} (acked ${margin}; timed out at #${timedOut.seq})`
          : `${s.workflowId} (acked ${margin}; never received)`,
      timedOut ? "timeout branch ran" : "lost",
    );
  }
  rows.push(beforeDeadline.row("signal acked before its deadline was received"));

  // A signal sent more than once with the same request ID is recorded once.
  const recorded = new Tally();
  if (evidence.requestIds) {
    for (const s of evidence.signals) {
      if (s.calls < 2 || s.acks.length === 0) continue;
      const n = eventsOf(s.workflowId).filter((e) => markerOf(e) === s.marker).length;
      recorded.check(n <= 1, () => `${s.workflowId} (request ${s.requestId} recorded ${n}×)`);
    }
    rows.push(recorded.row("signal retried with one request ID recorded once"));
  } else {
    rows.push({
      check: "signal retried with one request ID recorded once",
      count: 0,
      violations: "not checked",
      examples: [],
      note: "signalWorkflow takes no requestId on this API: no retries were sent",
    });
  }

  // Read models equal history: each run's status and last sequence number.
  if (evidence.readModel) {
    const model = evidence.readModel;
    const ids = new Set([...histories.keys(), ...evidence.starts.map((s) => s.workflowId)]);
    const same = new Tally();
    for (const id of ids) {
      const want = statusFromHistory(eventsOf(id));
      const row = model.get(id);
      same.check(
        row !== undefined && row.status === want.status && row.lastSeq === want.lastSeq,
        () =>
          row
            ? `${id} (read model ${row.status}/#${row.lastSeq}, history ${want.status}/#${want.lastSeq})`
            : `${id} (no row; history ${want.status}/#${want.lastSeq})`,
        row ? "differs" : "missing row",
      );
    }
    rows.push(same.row("read model (weft_runs) equals history"));
  } else {
    rows.push({
      check: "read model (weft_runs) equals history",
      count: 0,
      violations: "not checked",
      examples: [],
      note: "weft_runs could not be read",
    });
  }

  // Roles never exit of a transient fault: every exit the harness did not cause counts.
  rows.push({
    check: "role process exited on its own",
    count: evidence.roleStarts,
    violations: evidence.roleExits.length,
    examples: evidence.roleExits.slice(0, EXAMPLES).map((e) => `${e.name} pid ${e.pid}: ${e.why}`),
  });

  // The load sends only valid commands: nothing belongs in the dead-letter topic.
  const reasons = new Map<string, number>();
  for (const d of evidence.deadLetters) {
    const reason = d.reason.slice(0, 60);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  rows.push({
    check: "dead letters (weft.dlq) from valid load",
    count: evidence.deadLetters.length,
    violations: evidence.deadLetters.length,
    examples: evidence.deadLetters
      .slice(0, EXAMPLES)
      .map((d) => `${d.key}: ${d.reason.slice(0, 120)}`),
    ...(reasons.size
      ? {
          note: [...reasons]
            .map(([r, n]) => `${n}× ${r}`)
            .slice(0, 3)
            .join("; "),
        }
      : {}),
  });
  return rows;
}

function historyShape(
  id: string,
  events: readonly HistoryEvent[],
): [boolean, () => string, string] {
  const seqs = events.map((e) => e.seq);
  const sorted = [...seqs].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] !== i + 1) {
      const kind = sorted[i]! <= i ? "duplicate seq" : "gap";
      return [false, () => `${id} (${kind} at #${sorted[i]}, seqs ${compact(sorted)})`, kind];
    }
  }
  if (seqs.some((s, i) => i > 0 && s < seqs[i - 1]!)) {
    return [false, () => `${id} (seqs out of order in the log: ${compact(seqs)})`, "out of order"];
  }
  if (events[0] && events[0].body.type !== "WorkflowStarted") {
    return [false, () => `${id} (#1 is ${events[0]!.body.type})`, "start not first"];
  }
  const close = events.findIndex((e) => TERMINAL_EVENT_TYPES.has(e.body.type));
  if (close >= 0 && close < events.length - 1) {
    const after = events[close + 1]!;
    return [
      false,
      () => `${id} (#${after.seq} ${after.body.type} after the close)`,
      "event after close",
    ];
  }
  return [true, () => id, ""];
}

function checkTimers(id: string, events: readonly HistoryEvent[], closed: boolean, t: Tally): void {
  for (const started of events) {
    const b = started.body;
    if (b.type === "TimerStarted") {
      const fired = events.filter(
        (e) => e.body.type === "TimerFired" && e.body.timerSeq === b.timerSeq,
      );
      judgeTimer(t, id, `sleep #${b.timerSeq}`, b.dueAt, fired, closed);
    } else if (b.type === "StepRetryScheduled") {
      const again = events.filter(
        (e) =>
          e.body.type === "StepScheduled" &&
          e.body.stepSeq === b.stepSeq &&
          e.body.attempt === b.nextAttempt,
      );
      judgeTimer(
        t,
        id,
        `retry of step #${b.stepSeq} (attempt ${b.nextAttempt})`,
        b.dueAt,
        again,
        closed,
      );
    } else if (b.type === "SignalWaitStarted" && b.dueAt !== null) {
      const out = events.filter(
        (e) => e.body.type === "SignalWaitTimedOut" && e.body.waitSeq === b.waitSeq,
      );
      // A wait a signal ended never times out: only "at most once, never early" applies.
      judgeTimer(t, id, `signal timeout #${b.waitSeq}`, b.dueAt, out, false);
    }
  }
}

function judgeTimer(
  t: Tally,
  id: string,
  what: string,
  dueAt: number,
  fired: readonly HistoryEvent[],
  mustHaveFired: boolean,
): void {
  const early = fired.find((e) => e.at < dueAt);
  if (fired.length > 1) t.check(false, () => `${id} ${what} fired ${fired.length}×`, "fired twice");
  else if (early)
    t.check(false, () => `${id} ${what} fired ${dueAt - early.at} ms early`, "fired early");
  else if (fired.length === 0 && mustHaveFired)
    t.check(false, () => `${id} ${what} never fired in a closed run`, "never fired");
  else t.check(true, () => id);
}

/** The read model's status and last seq for a run with these events (pending: no history). */
export function statusFromHistory(events: readonly HistoryEvent[]): ReadModelRow {
  if (events.length === 0) return { status: "pending", lastSeq: 0 };
  const lastSeq = Math.max(...events.map((e) => e.seq));
  let status = "running";
  for (const e of events) {
    if (e.body.type === "WorkflowStarted") status = "running";
    else if (e.body.type === "WorkflowCompleted") status = "completed";
    else if (e.body.type === "WorkflowFailed") status = "failed";
    else if (e.body.type === "WorkflowCancelled") status = "cancelled";
    else if (e.body.type === "WorkflowBlocked") status = "blocked";
  }
  return { status, lastSeq };
}

/** The marker a SignalReceived carries in its payload (the load puts one in each signal). */
export function markerOf(event: HistoryEvent): string | undefined {
  if (event.body.type !== "SignalReceived") return undefined;
  try {
    const payload = JSON.parse(event.body.payload) as { marker?: unknown } | null;
    return typeof payload?.marker === "string" ? payload.marker : undefined;
  } catch {
    return undefined;
  }
}

function compact(seqs: readonly number[]): string {
  return seqs.length <= 12 ? seqs.join(",") : `${seqs.slice(0, 10).join(",")},…(${seqs.length})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
