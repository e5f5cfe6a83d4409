import type { ErrorCode } from "../core/errors";
import { dependencyOf } from "../core/until-available";
import { databaseFault, type DatabaseFault } from "./database-errors";
import type { DeadLetterKind } from "./project-batch";

/**
 * Whether a projector applies its records: per assigned partition, how its batches go, and the
 * records it sent to the DLQ. One sentence: a partition is stalled when it cannot write to its
 * database (read-only, full, corrupt: at once), or when it has not got a batch through for
 * `stallAfterMs` (failing all the while, or one batch hanging that long); a dead letter never
 * stalls it (the partition carries on past it), but is counted and remembered.
 *
 * No I/O and an injected clock: the projector reports to it, /readyz, the metrics and the
 * API's status read it.
 */

/** What a failed batch was about: a database fault, Kafka (the DLQ, a heartbeat), or else. */
export type ProjectorFault = DatabaseFault | "kafka" | "other";

export const PROJECTOR_FAULTS: readonly ProjectorFault[] = [
  "unavailable",
  "not_writable",
  "corrupt",
  "kafka",
  "other",
];

/** The stable code of a fault that stalls a partition at once. */
const FAULT_CODES: Partial<Record<ProjectorFault, ErrorCode>> = {
  not_writable: "DATABASE_NOT_WRITABLE",
  corrupt: "DATABASE_CORRUPT",
};

export interface ProjectorHealthOptions {
  /** A partition that has not got a batch through for this long is stalled. */
  readonly stallAfterMs: number;
  /** Dead letters of the last this-long count as recent; default 15 minutes. */
  readonly recentWindowMs?: number;
  readonly now?: () => number;
}

/** A stalled partition, as /readyz, the metrics and the API show it. */
export interface PartitionProblem {
  readonly topic: string;
  readonly partition: number;
  /** The next offset it has to apply, when known. */
  readonly offset: string | null;
  /** Since when (ms since the epoch) it has failed, or its batch has run. */
  readonly since: number;
  /** Failed tries since then (0 for a batch that hangs). */
  readonly failures: number;
  /** What the last failure was about; `hung` for a batch that runs and does not finish. */
  readonly fault: ProjectorFault | "hung";
  /** DATABASE_NOT_WRITABLE or DATABASE_CORRUPT, when the fault is one of those. */
  readonly code?: ErrorCode;
  /** One line: the partition, how long, and the last error (which names the database). */
  readonly error: string;
}

export interface DeadLetterNote {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly kind: DeadLetterKind;
  /** When it was sent (ms since the epoch). */
  readonly at: number;
}

export interface DeadLetterSummary {
  /** Records this projector sent to the DLQ since it started. */
  readonly total: number;
  /** Of those, the ones sent within `recentWindowMs`. */
  readonly recent: number;
  readonly recentWindowMs: number;
  /** The latest one. */
  readonly last?: DeadLetterNote;
}

export interface ProjectorHealthSnapshot {
  /** No partition is stalled. */
  readonly ready: boolean;
  /** Partitions assigned now (of every topic it reads). */
  readonly partitions: number;
  readonly stallAfterMs: number;
  readonly stalled: readonly PartitionProblem[];
  readonly deadLetters: DeadLetterSummary;
}

/** Per assigned partition, the latest figures, for the metrics. */
export interface PartitionFigures {
  readonly topic: string;
  readonly partition: number;
  readonly stalled: boolean;
  /** When it last committed a batch (ms since the epoch). */
  readonly lastAppliedAt?: number;
  /** Records behind the partition's high watermark as of its last batch. */
  readonly lag?: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  nextOffset?: bigint;
  highWatermark?: bigint;
  lastAppliedAt?: number;
  inFlightSince?: number;
  failingSince?: number;
  failures: number;
  lastError?: { message: string; fault: ProjectorFault };
}

const MINUTE_MS = 60_000;
const DEFAULT_RECENT_WINDOW_MS = 15 * MINUTE_MS;
/** Longest reason kept for the last dead letter (a decode error may quote a whole record). */
const MAX_REASON = 500;
/** Problems named in the one-line /readyz error. */
const NAMED_PROBLEMS = 3;

export class ProjectorHealth {
  private readonly stallAfterMs: number;
  private readonly recentWindowMs: number;
  private readonly now: () => number;
  private readonly partitions = new Map<string, PartitionState>();
  private deadLetterTotal = 0;
  /** Dead letters per minute (minute start → count), the recent window's only. */
  private readonly deadLetterMinutes = new Map<number, number>();
  private lastDeadLetter: DeadLetterNote | undefined;

  constructor(options: ProjectorHealthOptions) {
    this.stallAfterMs = options.stallAfterMs;
    this.recentWindowMs = options.recentWindowMs ?? DEFAULT_RECENT_WINDOW_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * The partitions assigned now. A partition that stays keeps its state: a projector whose
   * consumer restarts after failing batches (and rejoins its group) is still failing since then.
   */
  assigned(partitions: ReadonlyArray<{ topic: string; partition: number }>): void {
    const keep = new Set<string>();
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      keep.add(key);
      if (!this.partitions.has(key)) this.partitions.set(key, { topic, partition, failures: 0 });
    }
    for (const key of [...this.partitions.keys()]) if (!keep.has(key)) this.partitions.delete(key);
  }

  /** A batch of the partition begins, to apply from `nextOffset` (when known). */
  started(topic: string, partition: number, nextOffset?: bigint): void {
    const state = this.state(topic, partition);
    state.inFlightSince ??= this.now();
    if (nextOffset !== undefined) state.nextOffset = nextOffset;
  }

  /** The batch ended, however. */
  finished(topic: string, partition: number): void {
    const state = this.partitions.get(tpKey(topic, partition));
    if (state) state.inFlightSince = undefined;
  }

  /** A batch went through (committed, or had nothing to do): the partition fails no more. */
  succeeded(topic: string, partition: number): void {
    const state = this.partitions.get(tpKey(topic, partition));
    if (!state) return;
    state.failingSince = undefined;
    state.failures = 0;
    state.lastError = undefined;
  }

  /** A batch committed: the partition's next offset, and its high watermark when known. */
  applied(topic: string, partition: number, nextOffset: bigint, highWatermark?: bigint): void {
    const state = this.state(topic, partition);
    state.nextOffset = nextOffset;
    state.lastAppliedAt = this.now();
    if (highWatermark !== undefined) state.highWatermark = highWatermark;
  }

  /** A batch failed (it is tried again); returns what the failure was about. */
  failed(topic: string, partition: number, err: unknown): ProjectorFault {
    const fault = projectorFault(err);
    const state = this.state(topic, partition);
    state.failingSince ??= this.now();
    state.failures += 1;
    state.lastError = { message: oneLine(err), fault };
    return fault;
  }

  /** Records the partition sent to the DLQ (the partition carried on past them). */
  deadLettered(
    topic: string,
    partition: number,
    records: ReadonlyArray<{ offset: string; reason: string; kind: DeadLetterKind }>,
  ): void {
    if (records.length === 0) return;
    const at = this.now();
    this.deadLetterTotal += records.length;
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    this.deadLetterMinutes.set(minute, (this.deadLetterMinutes.get(minute) ?? 0) + records.length);
    this.forgetOldMinutes(at);
    const last = records[records.length - 1]!;
    this.lastDeadLetter = {
      topic,
      partition,
      offset: last.offset,
      reason:
        last.reason.length > MAX_REASON ? `${last.reason.slice(0, MAX_REASON)}…` : last.reason,
      kind: last.kind,
      at,
    };
  }

  snapshot(): ProjectorHealthSnapshot {
    const now = this.now();
    const stalled: PartitionProblem[] = [];
    for (const state of this.sorted()) {
      const problem = this.problemOf(state, now);
      if (problem) stalled.push(problem);
    }
    return {
      ready: stalled.length === 0,
      partitions: this.partitions.size,
      stallAfterMs: this.stallAfterMs,
      stalled,
      deadLetters: this.deadLetterSummary(now),
    };
  }

  /** Per assigned partition, for the metrics. */
  figures(): PartitionFigures[] {
    const now = this.now();
    return this.sorted().map((state) => ({
      topic: state.topic,
      partition: state.partition,
      stalled: this.problemOf(state, now) !== undefined,
      ...(state.lastAppliedAt !== undefined ? { lastAppliedAt: state.lastAppliedAt } : {}),
      ...(state.highWatermark !== undefined && state.nextOffset !== undefined
        ? { lag: Math.max(0, Number(state.highWatermark - state.nextOffset)) }
        : {}),
    }));
  }

  private problemOf(state: PartitionState, now: number): PartitionProblem | undefined {
    const where = `${state.topic} partition ${state.partition}`;
    const offset = state.nextOffset?.toString() ?? null;
    const from = offset === null ? "" : ` from offset ${offset}`;
    const error = state.lastError;
    if (state.failingSince !== undefined && error) {
      const code = FAULT_CODES[error.fault];
      const failingMs = now - state.failingSince;
      // A database that refuses writes or is damaged will not mend by waiting: at once.
      if (code === undefined && failingMs < this.stallAfterMs) return undefined;
      const what = code
        ? `cannot write to its database (${code})`
        : `has failed to apply its records${from} for ${seconds(failingMs)}`;
      return {
        topic: state.topic,
        partition: state.partition,
        offset,
        since: state.failingSince,
        failures: state.failures,
        fault: error.fault,
        ...(code ? { code } : {}),
        error: `${where} ${what} (${state.failures} failed ${state.failures === 1 ? "try" : "tries"}; the last: ${error.message})`,
      };
    }
    if (state.inFlightSince !== undefined && now - state.inFlightSince >= this.stallAfterMs) {
      return {
        topic: state.topic,
        partition: state.partition,
        offset,
        since: state.inFlightSince,
        failures: 0,
        fault: "hung",
        error: `${where}: a batch${from} has run for ${seconds(now - state.inFlightSince)} without finishing (a lock held elsewhere, or a database that does not answer)`,
      };
    }
    return undefined;
  }

  private deadLetterSummary(now: number): DeadLetterSummary {
    this.forgetOldMinutes(now);
    let recent = 0;
    for (const count of this.deadLetterMinutes.values()) recent += count;
    return {
      total: this.deadLetterTotal,
      recent,
      recentWindowMs: this.recentWindowMs,
      ...(this.lastDeadLetter ? { last: this.lastDeadLetter } : {}),
    };
  }

  /** Keeps the minutes that overlap the window: at most window / 1 min + 1 of them. */
  private forgetOldMinutes(now: number): void {
    for (const minute of this.deadLetterMinutes.keys()) {
      if (minute + MINUTE_MS <= now - this.recentWindowMs) this.deadLetterMinutes.delete(minute);
    }
  }

  private state(topic: string, partition: number): PartitionState {
    const key = tpKey(topic, partition);
    let state = this.partitions.get(key);
    if (!state) {
      state = { topic, partition, failures: 0 };
      this.partitions.set(key, state);
    }
    return state;
  }

  private sorted(): PartitionState[] {
    return [...this.partitions.values()].sort(
      (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
    );
  }
}

/** What a failed batch was about: the database's fault when it is one, else Kafka or other. */
export function projectorFault(err: unknown): ProjectorFault {
  const fault = databaseFault(err);
  if (fault) return fault;
  return dependencyOf(err, "postgres") === "kafka" ? "kafka" : "other";
}

/**
 * The projector's check for /readyz: ready unless a partition is stalled, with the partitions,
 * the problems and the dead letters shown either way.
 */
export function projectorCheck(snapshot: ProjectorHealthSnapshot): {
  ok: boolean;
  error?: string;
  code?: string;
  details: Record<string, unknown>;
} {
  const { stalled } = snapshot;
  const named = stalled.slice(0, NAMED_PROBLEMS).map((p) => p.error);
  if (stalled.length > NAMED_PROBLEMS) named.push(`${stalled.length - NAMED_PROBLEMS} more`);
  const code = stalled.find((p) => p.code !== undefined)?.code;
  return {
    ok: snapshot.ready,
    ...(stalled.length > 0 ? { error: `projector stalled: ${named.join("; ")}` } : {}),
    ...(code ? { code } : {}),
    details: healthJson(snapshot),
  };
}

/** A snapshot as JSON (times as ISO-8601): what /readyz shows and what the API is sent. */
export function healthJson(snapshot: ProjectorHealthSnapshot) {
  const { deadLetters } = snapshot;
  return {
    partitions: snapshot.partitions,
    stallAfterMs: snapshot.stallAfterMs,
    stalled: snapshot.stalled.map((p) => ({ ...p, since: new Date(p.since).toISOString() })),
    deadLetters: {
      total: deadLetters.total,
      recent: deadLetters.recent,
      recentMinutes: Math.round(deadLetters.recentWindowMs / MINUTE_MS),
      ...(deadLetters.last
        ? { last: { ...deadLetters.last, at: new Date(deadLetters.last.at).toISOString() } }
        : {}),
    },
  };
}

export type ProjectorHealthJson = ReturnType<typeof healthJson>;

function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function oneLine(err: unknown): string {
  const given = (err as { message?: unknown } | null | undefined)?.message;
  const message = typeof given === "string" ? given : String(err);
  return message.replace(/\s+/g, " ").trim().slice(0, 1000);
}
