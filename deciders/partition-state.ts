import {
  errorInfo,
  WorkflowExecution,
  type OperationCommand,
  type WorkflowCommand,
} from "../workflow/execution";
import { retryDelayMs, shouldRetry, type ResolvedRetryPolicy } from "../core/retry";
import { stepIdempotencyKey } from "../core/ids";
import type { Logger } from "../core/logger";
import type {
  Command,
  ErrorInfo,
  EventBody,
  HistoryEvent,
  ParentLink,
  StepCancel,
  StepTask,
} from "../schemas/types";
import {
  MAX_HEARTBEAT_DETAILS_BYTES,
  reusesClosedId,
  TERMINAL_EVENT_TYPES,
} from "../schemas/types";
import type { Registry } from "./registry";
import { DEFAULT_CHUNK_BYTES, Run, type OpenChild, type StepState, type TimerEntry } from "./run";
import { childClosedReport, childRefusedReport, parentCloseCommand } from "./child-commands";
import type { ChangelogEntry } from "./run-changelog";
import { packedInCurrentVersion, unpackEvents } from "./packed-events";
import { TimerQueue } from "./timer-queue";
import { isClosedStatus, type ClosedStatus } from "../core/run-lifecycle";
import { ClosedRuns, ENTRY_BYTES } from "./closed-runs";

export interface OutgoingTask {
  queue: string;
  task: StepTask;
}

/** Tells the worker of a running attempt that its run was cancelled (see StepCancel). */
export interface OutgoingCancel {
  queue: string;
  cancel: StepCancel;
}

/** What one decision batch produces; committed in one Kafka transaction or not at all. */
export interface Decisions {
  events: HistoryEvent[];
  tasks: OutgoingTask[];
  /** On the task topics after the tasks: attempts whose run was cancelled under them. */
  cancels: OutgoingCancel[];
  /** The same decisions as the changelog records them (see run-changelog.ts). */
  changes: ChangelogEntry[];
  /**
   * Commands for other runs, to `weft.commands` in the same transaction: a child's start, a
   * child's close reported to its parent, a parent's close passed on to its children.
   */
  commands: Command[];
}

export interface PartitionStateOptions {
  /** Live executions kept (see WeftConfig.executionCacheSize). Default 10,000. */
  executionCacheSize?: number;
  /** About how large a sealed chunk of a run's history in the changelog grows. */
  chunkBytes?: number;
  /**
   * How long a closed run's workflow ID keeps deduplicating starts (WEFT_DEDUPE_RETENTION_MS).
   * Default here: as long as the state lives. After it, a start with the ID begins a new run
   * whatever its idReusePolicy, its history above every seq the expired runs reached.
   */
  dedupeRetentionMs?: number;
  /** Closed runs folded in since the last snapshot before the next (or a tenth of all). */
  closedSnapshotAfter?: number;
  /** Closed-run markers the changelog holds before they are folded into a delta. */
  closedDeltaAfter?: number;
}

/** Runs closed since the last snapshot before the next: this many, or a tenth of those held. */
const CLOSED_SNAPSHOT_AFTER = 4_000;
/**
 * Markers before they are folded into a delta (16 kB). A restore reads every marker not yet
 * folded, and every erased one until compaction drops its tombstone: folding them by the
 * thousand keeps that apart from the closed runs held (a tenth of 125,000 was 12,500).
 */
const CLOSED_DELTA_AFTER = 1_000;
/** A snapshot also comes this long after the last one, so that retention drops what expired. */
const CLOSED_SNAPSHOT_INTERVAL_MS = 3600_000;
/** Runs of one workflow ID continued as new in one decision before the chain is blocked. */
const MAX_CONTINUES_PER_DECISION = 100;
/** Bytes of one record of a closed-run snapshot: well under a broker's 1 MiB batch limit. */
const CLOSED_CHUNK_BYTES = 256 * 1024;

/**
 * The open runs of one partition of `weft.commands`, and the decisions made on them. Nothing
 * here does I/O: the caller commits `takeDecisions()` atomically, or throws this state away.
 * A run leaves memory when it closes; only a hash of its workflow ID, its close time, status
 * and last seq stay (see closed-runs.ts), so a start with that ID within the retention is
 * still a duplicate.
 */
export class PartitionState {
  /** Open runs only (running or blocked). */
  readonly runs = new Map<string, Run>();
  /** Closed runs within the start-deduplication retention. */
  readonly closed = new ClosedRuns();
  readonly timers = new TimerQueue();
  /**
   * Closed runs whose changelog marker is its own record, not yet in a snapshot of `closed`:
   * the next snapshot erases these markers. Bounded by the snapshot threshold.
   */
  private pendingMarkers: string[] = [];
  /** Chunks of the last snapshot of `closed` in the changelog (the next erases extra ones). */
  private snapshotChunks = 0;
  /** Deltas written since the last snapshot (indices 0 … deltaCount-1), and their entries. */
  private deltaCount = 0;
  private deltaEntries = 0;
  /**
   * The highest last seq of the runs whose entries retention dropped. A run under an ID not
   * held in `closed` begins its history above it: the ID may have named one of those runs,
   * and its events (history, step keys, read models) must not be taken for theirs.
   */
  private seqFloor = 0;
  private lastSnapshotAt = 0;
  private readonly executionCacheSize: number;
  private readonly chunkBytes: number;
  private readonly dedupeRetentionMs: number;
  private readonly closedSnapshotAfter: number;
  private readonly closedDeltaAfter: number;
  private out: Decisions = { events: [], tasks: [], cancels: [], changes: [], commands: [] };
  /** Runs continued as new in the current decisions, by workflow ID (see continueAsNew). */
  private readonly continuedInBatch = new Map<string, number>();
  /** Runs the current decisions touched: each gets one changelog record when they are taken. */
  private readonly touched = new Map<string, Run>();
  private now = 0;

  /** Runs whose execution is cached, least recently used first. */
  private readonly cached = new Map<string, Run>();

  constructor(
    readonly partition: number,
    private readonly registry: Registry,
    private readonly log: Logger,
    options: PartitionStateOptions = {},
  ) {
    this.executionCacheSize = options.executionCacheSize ?? 10_000;
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.dedupeRetentionMs = options.dedupeRetentionMs ?? Number.POSITIVE_INFINITY;
    this.closedSnapshotAfter = options.closedSnapshotAfter ?? CLOSED_SNAPSHOT_AFTER;
    this.closedDeltaAfter = options.closedDeltaAfter ?? CLOSED_DELTA_AFTER;
  }

  /**
   * Rebuilds state from the partition's changelog (restore after assignment): its records as
   * compaction leaves them, one per key. A run is its sealed chunks and its open one.
   */
  restoreChangelog(entries: Iterable<ChangelogEntry>): void {
    const chunks = new Map<string, Map<number, Buffer>>();
    const rest: ChangelogEntry[] = [];
    const snapshotChunks = new Map<number, Buffer>();
    const deltas: { index: number; packed: Buffer }[] = [];
    let snapshot: { chunks: number; takenAt: number; seqFloor?: number } | undefined;
    for (const entry of entries) {
      if (entry.kind === "closedSnapshot") snapshot = entry;
      else if (entry.kind === "closedChunk") {
        if (entry.packed) snapshotChunks.set(entry.index, entry.packed);
      } else if (entry.kind === "closedDelta") {
        if (entry.packed) deltas.push({ index: entry.index, packed: entry.packed });
      } else if (entry.kind !== "chunk") rest.push(entry);
      else {
        let byIndex = chunks.get(entry.workflowId);
        if (!byIndex) chunks.set(entry.workflowId, (byIndex = new Map<number, Buffer>()));
        byIndex.set(entry.index, entry.packed);
      }
    }
    // The snapshot first: a run record or marker written after it supersedes its entry.
    if (snapshot) {
      for (let index = 0; index < snapshot.chunks; index++) {
        const chunk = snapshotChunks.get(index);
        // Written in one transaction with its header: never missing from Weft.
        if (chunk) this.closed.load(chunk);
        else this.log.error({ index }, "closed-runs snapshot chunk missing");
      }
      this.snapshotChunks = snapshot.chunks;
      this.lastSnapshotAt = snapshot.takenAt;
      this.seqFloor = snapshot.seqFloor ?? 0;
    }
    // Then the deltas since, in the order written (a later entry of an ID replaces one before).
    deltas.sort((a, b) => a.index - b.index);
    for (const delta of deltas) {
      this.closed.load(delta.packed);
      this.deltaEntries += delta.packed.length / ENTRY_BYTES;
    }
    this.deltaCount = deltas.length > 0 ? deltas[deltas.length - 1]!.index + 1 : 0;
    for (const entry of rest) {
      if (entry.kind === "closed") {
        const run = this.runs.get(entry.workflowId);
        if (run) this.forget(run, entry.marker.closedAt);
        else {
          this.closed.set(entry.workflowId, {
            closedAt: entry.marker.closedAt,
            status: closedStatus(entry.marker.status),
            lastSeq: entry.marker.lastSeq ?? 0,
          });
          this.pendingMarkers.push(entry.workflowId);
        }
      } else if (entry.kind === "run") {
        const byIndex = chunks.get(entry.workflowId);
        const sealed = Array.from({ length: entry.sealedCount }, (_, i) => byIndex?.get(i));
        if (sealed.some((chunk) => chunk === undefined)) {
          // Written in the run's own transaction, before its record: never missing from Weft.
          this.log.error(
            { workflowId: entry.workflowId, sealed: entry.sealedCount },
            "changelog chunk missing; run not restored",
          );
          continue;
        }
        this.restoreRun(entry.workflowId, sealed as Buffer[], entry.open, entry.headers);
      }
    }
  }

  private restoreRun(
    workflowId: string,
    sealed: Buffer[],
    open: Buffer,
    headers: Record<string, unknown> | undefined,
  ): void {
    this.runs.delete(workflowId);
    this.closed.delete(workflowId);
    // Each chunk decoded where it is (chunks end at event boundaries), not concatenated: the
    // run keeps a copy of `open` made next, and a garbage concatenation between two kept
    // copies in the allocation pool's 8 kB slabs left the slabs half empty (1.37 kB of
    // buffers per restored sleeping run, not 0.69).
    const events = [...sealed, open].flatMap((chunk) => unpackEvents(chunk, headers));
    const first = events[0];
    if (!packedInCurrentVersion(headers) || first?.body.type !== "WorkflowStarted") {
      // Written in an earlier schema version (or odd): fold and pack the events again.
      for (const event of events) this.restore(event);
      return;
    }
    const run = new Run(
      workflowId,
      first.body.workflowType,
      first.body.input,
      first.at,
      this.chunkBytes,
      first.seq,
    );
    this.runs.set(workflowId, run);
    run.restoreChunks(
      events,
      sealed,
      open,
      (t) => this.timers.push(t),
      (t) => this.timers.remove(t),
    );
    if (run.closed) this.forget(run, events[events.length - 1]!.at);
  }

  /**
   * The changelog records that rebuild this state: each open run's events, a marker per closed
   * run and the partition's own. Written once, after a restore from history, when the
   * partition had no changelog yet (an upgrade).
   */
  changelogSnapshot(now: number): ChangelogEntry[] {
    const entries: ChangelogEntry[] = this.closedSnapshot(now);
    for (const run of this.runs.values()) entries.push(this.runEntry(run));
    entries.push({ kind: "partition", builtAt: now });
    return entries;
  }

  /** A run's changelog record, with the chunks it sealed since its last one. */
  private runEntry(run: Run): ChangelogEntry {
    const { from, chunks } = run.history.takeUnwritten();
    return {
      kind: "run",
      workflowId: run.workflowId,
      sealedCount: from + chunks.length,
      open: run.history.openChunk(),
      newChunks: chunks.map((packed, i) => ({ index: from + i, packed })),
    };
  }

  /** Rebuilds state from the partition's history (an event at a time, in order). */
  restore(event: HistoryEvent): void {
    let run = this.runs.get(event.workflowId);
    if (!run) {
      // A WorkflowStarted after a closed run of the ID: the run continued as new.
      if (this.closed.has(event.workflowId) && event.body.type !== "WorkflowStarted") return;
      if (event.body.type !== "WorkflowStarted") {
        this.log.warn(
          { workflowId: event.workflowId, seq: event.seq },
          "history without a start; skipped",
        );
        return;
      }
      this.reopen(event.workflowId);
      run = new Run(
        event.workflowId,
        event.body.workflowType,
        event.body.input,
        event.at,
        this.chunkBytes,
        event.seq,
      );
      this.runs.set(event.workflowId, run);
    }
    if (event.seq <= run.lastSeq) {
      // Written twice by a misbehaving producer: the first copy stands.
      this.log.error(
        { workflowId: event.workflowId, seq: event.seq },
        "duplicate history event skipped",
      );
      return;
    }
    if (event.seq > run.lastSeq + 1) {
      // Never written by Weft; restoring what there is beats refusing the whole partition.
      this.log.error(
        { workflowId: event.workflowId, seq: event.seq, after: run.lastSeq },
        "gap in history",
      );
      run.lastSeq = event.seq - 1;
    }
    run.fold(
      event,
      (t) => this.timers.push(t),
      true,
      (t) => this.timers.remove(t),
    );
    if (run.closed) this.forget(run, event.at);
  }

  /** A closed run leaves memory: only its ID and close time stay. */
  private forget(run: Run, closedAt: number): void {
    this.runs.delete(run.workflowId);
    this.cached.delete(run.workflowId);
    run.closedAt = closedAt;
    this.closed.set(run.workflowId, {
      closedAt,
      status: closedStatus(run.status),
      lastSeq: run.lastSeq,
    });
    this.pendingMarkers.push(run.workflowId);
  }

  /** A closed run's ID names a run again (continued as new): it is no closed run's now. */
  private reopen(workflowId: string): void {
    this.closed.delete(workflowId);
    // Its marker was never written: the run's record takes its key in the same decision.
    if (this.pendingMarkers.at(-1) === workflowId) this.pendingMarkers.pop();
  }

  /**
   * Replaces the changelog's closed-run markers by a snapshot of `closed` (without the runs
   * past the retention): a few records of 16 bytes per run instead of a record per run, so a
   * restore reads them in one go. The markers it folds in are erased in the same transaction.
   */
  private closedSnapshot(now: number): ChangelogEntry[] {
    if (Number.isFinite(this.dedupeRetentionMs)) {
      const { lastSeq } = this.closed.expire(now - this.dedupeRetentionMs);
      this.seqFloor = Math.max(this.seqFloor, lastSeq);
    }
    const chunks = this.closed.snapshot(CLOSED_CHUNK_BYTES);
    const entries: ChangelogEntry[] = [
      {
        kind: "closedSnapshot",
        chunks: chunks.length,
        count: this.closed.size,
        takenAt: now,
        seqFloor: this.seqFloor,
      },
      ...chunks.map((packed, index) => ({ kind: "closedChunk" as const, index, packed })),
    ];
    for (let index = chunks.length; index < this.snapshotChunks; index++)
      entries.push({ kind: "closedChunk", index, packed: null });
    // The snapshot holds the deltas' runs.
    for (let index = 0; index < this.deltaCount; index++)
      entries.push({ kind: "closedDelta", index, packed: null });
    this.deltaCount = 0;
    this.deltaEntries = 0;
    // A marker whose ID names an open run again is that run's record now: left alone.
    for (const workflowId of this.pendingMarkers)
      if (!this.runs.has(workflowId)) entries.push({ kind: "forget", workflowId });
    this.pendingMarkers = [];
    this.snapshotChunks = chunks.length;
    this.lastSnapshotAt = now;
    return entries;
  }

  /**
   * Folds the closed-run markers in: a snapshot once the runs closed since the last reach a
   * tenth of those held (so rewriting it costs each closed run a bounded share), else a
   * delta once they reach `closedDeltaAfter`.
   */
  private foldMarkers(now: number): ChangelogEntry[] {
    if (this.snapshotDue(now)) return this.closedSnapshot(now);
    if (this.pendingMarkers.length < this.closedDeltaAfter) return [];
    // A marker whose ID names an open run again is that run's record now: left alone.
    const ids = this.pendingMarkers.filter((id) => !this.runs.has(id));
    const packed = this.closed.entriesOf(ids);
    const entries: ChangelogEntry[] = [{ kind: "closedDelta", index: this.deltaCount, packed }];
    for (const workflowId of ids) entries.push({ kind: "forget", workflowId });
    this.pendingMarkers = [];
    this.deltaCount++;
    this.deltaEntries += packed.length / ENTRY_BYTES;
    return entries;
  }

  private snapshotDue(now: number): boolean {
    const pending = this.pendingMarkers.length;
    const since = pending + this.deltaEntries;
    if (since >= Math.max(this.closedSnapshotAfter, this.closed.size / 10)) return true;
    const retains = Number.isFinite(this.dedupeRetentionMs) && this.closed.size > 0;
    return now - this.lastSnapshotAt >= CLOSED_SNAPSHOT_INTERVAL_MS && (pending > 0 || retains);
  }

  /** After restore, blocked runs get one more try: the code may have been fixed. */
  reopenBlocked(): Run[] {
    const reopened: Run[] = [];
    for (const run of this.runs.values()) {
      if (run.status === "blocked") {
        run.status = "running";
        reopened.push(run);
      }
    }
    return reopened;
  }

  takeDecisions(): Decisions {
    const out = this.out;
    for (const run of this.touched.values()) {
      const closedAt = run.closedAt;
      if (closedAt === undefined) {
        out.changes.push(this.runEntry(run));
        continue;
      }
      // Closed: its sealed chunks leave the changelog, its marker supersedes its record.
      for (let index = 0; index < run.chunksAtClose; index++)
        out.changes.push({ kind: "erase", workflowId: run.workflowId, index });
      out.changes.push({
        kind: "closed",
        workflowId: run.workflowId,
        marker: {
          closedAt,
          status: run.status,
          workflowType: run.workflowType,
          lastSeq: run.lastSeq,
        },
      });
    }
    this.touched.clear();
    this.continuedInBatch.clear();
    out.changes.push(...this.foldMarkers(this.now));
    this.out = { events: [], tasks: [], cancels: [], changes: [], commands: [] };
    return out;
  }

  /** Closed runs whose changelog marker is still its own record (not yet in a snapshot). */
  get pendingMarkerCount(): number {
    return this.pendingMarkers.length;
  }

  /** Deltas of closed runs in the changelog since its last snapshot. */
  get closedDeltaCount(): number {
    return this.deltaCount;
  }

  get openRuns(): number {
    return this.runs.size;
  }

  async resume(run: Run, now: number): Promise<void> {
    this.now = now;
    await this.advance(run);
  }

  async apply(command: Command, now: number): Promise<void> {
    this.now = now;
    const run = this.runs.get(command.workflowId);
    const body = command.body;
    // The run's ID goes into each line logged rather than into a child logger made per
    // command: most commands log nothing, and the child was garbage made on every one.
    const workflowId = command.workflowId;
    if (body.type === "StartWorkflow") {
      const closed = run ? undefined : this.closed.get(command.workflowId);
      // Past the retention the ID is free again, also before a snapshot drops its entry.
      const expired = closed !== undefined && closed.closedAt < now - this.dedupeRetentionMs;
      if (run && body.signal && !run.closed) {
        // signalWithStart on an open run: the signal is for it (once per request ID).
        if (run.hasRecorded(body.requestId)) return;
        this.append(run, {
          type: "SignalReceived",
          signalName: body.signal.signalName,
          payload: body.signal.payload,
          requestId: body.requestId,
        });
        await this.advance(run);
        return;
      }
      if (run || (closed && !expired && !reusesClosedId(body.idReusePolicy, closed.status))) {
        const parent = body.parent;
        if (parent && !(run && sameParent(run.parent, parent))) {
          // A child whose ID names another run never starts: its parent is told, or it
          // would wait for it for ever. (A repeat of the same child's start is only a repeat.)
          this.log.info(
            { workflowId, parent: parent.workflowId },
            "child's workflow ID names another run",
          );
          this.out.commands.push(childRefusedReport(command.workflowId, parent, this.now));
          return;
        }
        this.log.debug(
          { workflowId, requestId: body.requestId },
          "start deduplicated: the run exists",
        );
        return;
      }
      // A closed run's ID taken again: the new run's history continues after the closed one's.
      if (closed) this.reopen(command.workflowId);
      const created = new Run(
        command.workflowId,
        body.workflowType,
        body.input,
        now,
        this.chunkBytes,
        (closed?.lastSeq ?? this.seqFloor) + 1,
      );
      this.runs.set(command.workflowId, created);
      this.append(created, {
        type: "WorkflowStarted",
        workflowType: body.workflowType,
        input: body.input,
        idempotencyKey: body.idempotencyKey,
        requestId: body.requestId,
        ...this.executionLimit(body.workflowType, body.executionTimeoutMs),
        definitionHash: this.registry.workflowHash(body.workflowType) ?? null,
        reset: body.reset ?? null,
        parent: body.parent ?? null,
      });
      // signalWithStart: the signal follows the start in the same decision, so the code sees
      // it as the first thing that happened to the run.
      if (body.signal) {
        this.append(created, {
          type: "SignalReceived",
          signalName: body.signal.signalName,
          payload: body.signal.payload,
          requestId: body.requestId,
        });
      }
      await this.advance(created);
      return;
    }
    if (!run || run.closed) {
      this.log.info(
        {
          workflowId,
          command: body.type,
          status: run?.status ?? (this.closed.has(command.workflowId) ? "closed" : "unknown"),
        },
        "command for a run that is not open; dropped",
      );
      return;
    }
    // A client's retry of a signal whose first try got through is recorded once, not again. A
    // cancel is recorded once per run (below): its retry, or another cancel, finds the cancel
    // requested already, or the run closed (above).
    if (body.type === "SignalWorkflow" && run.hasRecorded(body.requestId)) {
      this.log.debug(
        { workflowId, requestId: body.requestId },
        "signal with a request ID already recorded; ignored",
      );
      return;
    }
    switch (body.type) {
      case "SignalWorkflow":
        this.append(run, {
          type: "SignalReceived",
          signalName: body.signalName,
          payload: body.payload,
          requestId: body.requestId,
        });
        break;
      case "CancelWorkflow":
        // Terminate (an operator's, or a parent-close policy): closed at once, its code not run.
        if (body.terminate) {
          this.terminate(run, body.reason, body.requestId);
          return;
        }
        // A blocked run cannot run code to clean up: it closes at once, as every run did
        // before cancel requests (also one whose cancel was requested before it blocked).
        if (run.status === "blocked") {
          this.append(run, {
            type: "WorkflowCancelled",
            reason: body.reason,
            requestId: body.requestId,
          });
          return;
        }
        if (run.cancelRequested) {
          this.log.debug(
            { workflowId, requestId: body.requestId },
            "cancel already requested; ignored",
          );
          return;
        }
        // The code sees the cancel at its current awaits and may clean up (ctx.nonCancellable);
        // code that does not catch it ends at once, and the run closes cancelled in this same
        // decision (advanceExecution).
        await this.requestCancel(run, body.reason, body.requestId);
        return;
      case "ReportChildClosed": {
        const child = run.children.get(body.childSeq);
        if (!child || child.workflowId !== body.childWorkflowId) {
          // Recorded already (a repeated report), or no child of this run: recorded once.
          this.log.debug(
            { workflowId, childSeq: body.childSeq, child: body.childWorkflowId },
            "child report for no open child; dropped",
          );
          return;
        }
        if (body.status === "completed") {
          this.append(run, {
            type: "ChildWorkflowCompleted",
            childSeq: body.childSeq,
            childWorkflowId: body.childWorkflowId,
            result: body.result ?? "null",
          });
        } else {
          this.append(run, {
            type: "ChildWorkflowFailed",
            childSeq: body.childSeq,
            childWorkflowId: body.childWorkflowId,
            status: body.status,
            error: body.error ?? {
              name: "Error",
              message: `child ${body.status}`,
              stack: null,
              terminal: true,
              code: null,
            },
          });
        }
        break;
      }
      case "ReportStepStarted": {
        const step = run.steps.get(body.stepSeq);
        if (
          !step ||
          step.attempt !== body.attempt ||
          (step.status !== "scheduled" && step.status !== "started")
        ) {
          this.log.debug(
            { workflowId, stepSeq: body.stepSeq, attempt: body.attempt },
            "stale step start; dropped",
          );
          return;
        }
        this.recordStart(run, body.stepSeq, body.attempt, body.workerId, body.startedAt);
        return;
      }
      case "ReportStepHeartbeat": {
        const step = run.steps.get(body.stepSeq);
        if (
          !step ||
          step.attempt !== body.attempt ||
          (step.status !== "scheduled" && step.status !== "started")
        ) {
          this.log.debug(
            { workflowId, stepSeq: body.stepSeq, attempt: body.attempt },
            "stale heartbeat; dropped",
          );
          return;
        }
        let details = body.details;
        if (details !== null && Buffer.byteLength(details) > MAX_HEARTBEAT_DETAILS_BYTES) {
          // The worker refuses these before sending; one that did not still proves the attempt
          // alive, but its details are not kept.
          this.log.warn(
            { workflowId, stepSeq: body.stepSeq, bytes: Buffer.byteLength(details) },
            "heartbeat details too large; not kept",
          );
          details = null;
        }
        // Not delivered to the code (it never sees heartbeats): no replay for a heartbeat.
        this.append(run, {
          type: "StepHeartbeatRecorded",
          stepSeq: body.stepSeq,
          attempt: body.attempt,
          details,
        });
        return;
      }
      case "ReportStepCompleted":
      case "ReportStepFailed": {
        const outcome = body.type === "ReportStepCompleted" ? "completed" : "failed";
        // A quick step's start comes with its result (the worker held its started report
        // back): recorded first, as that report would have been, if the attempt has not
        // started yet.
        const step = run.steps.get(body.stepSeq);
        if (
          body.startedAt != null &&
          step?.attempt === body.attempt &&
          step.status === "scheduled"
        ) {
          this.recordStart(run, body.stepSeq, body.attempt, body.workerId, body.startedAt);
        }
        const ignored = this.checkReport(run, body.stepSeq, body.attempt);
        if (ignored) {
          this.append(run, {
            type: "StepResultIgnored",
            stepSeq: body.stepSeq,
            attempt: body.attempt,
            workerId: body.workerId,
            outcome,
            reason: ignored,
          });
          return;
        }
        if (body.type === "ReportStepCompleted") {
          this.append(run, {
            type: "StepCompleted",
            stepSeq: body.stepSeq,
            attempt: body.attempt,
            workerId: body.workerId,
            result: body.result,
          });
        } else {
          this.failAttempt(run, body.stepSeq, body.attempt, body.workerId, body.error);
        }
        break;
      }
    }
    await this.advance(run);
  }

  /**
   * Records the cancel request, lets the code see it, and tells the workers of the attempts
   * the code no longer awaits (cancelled with it) to abort them: an attempt scheduled or
   * running before, whose step the code, after the cancel, neither waits on (it was not made
   * inside ctx.nonCancellable) nor can (the run closed). A notice is a hint to the worker,
   * outside history: the attempt's report is applied as any other.
   */
  private async requestCancel(run: Run, reason: string | null, requestId: string): Promise<void> {
    const running = [...run.steps.values()].filter(
      (s) => s.status === "scheduled" || s.status === "started",
    );
    const attempts = running.map((s) => ({ seq: s.seq, attempt: s.attempt, queue: s.taskQueue }));
    this.append(run, { type: "WorkflowCancelRequested", reason, requestId });
    // Held here: the execution cache may let the run's execution go as the decision ends.
    const execution = await this.ensureExecution(run);
    await this.advance(run);
    // Blocked: what its code awaits is known only once it replays again; no notice.
    if (run.status === "blocked" || (!run.closed && !execution)) return;
    for (const { seq, attempt, queue } of attempts) {
      if (!run.closed && execution?.isWaiting(seq)) continue;
      this.out.cancels.push({
        queue,
        cancel: { workflowId: run.workflowId, stepSeq: seq, attempt, reason, requestId },
      });
    }
    // Children the code no longer awaits get the parent-close policy now, as a step its
    // notice; the run's close passes it on to those it still awaits (see append).
    if (run.closed || !execution) return;
    for (const [seq, child] of run.children) {
      if (execution.isWaiting(seq) || child.policyPassed) continue;
      const passed = parentCloseCommand(run.workflowId, seq, child, "was cancelled", this.now);
      if (passed) this.out.commands.push(passed);
    }
  }

  /**
   * Closes the run cancelled at once, its code not run (no cleanup, whatever it awaits or was
   * cleaning up after a cancel), and tells the workers of its attempts scheduled or running to
   * stop. A retry of the terminate finds the run closed and is dropped.
   */
  private terminate(run: Run, reason: string | null, requestId: string): void {
    const running = [...run.steps.values()].filter(
      (s) => s.status === "scheduled" || s.status === "started",
    );
    this.append(run, { type: "WorkflowCancelled", reason, requestId, terminated: true });
    this.log.info({ workflowId: run.workflowId, requestId }, "run terminated");
    this.noticeAttempts(run, running, reason ?? `workflow ${run.workflowId} was terminated`);
  }

  /** Fires every timer due by `now`, in due order. */
  async fireDue(now: number): Promise<number> {
    this.now = now;
    let fired = 0;
    for (let timer = this.timers.popDue(now); timer; timer = this.timers.popDue(now)) {
      const run = this.runs.get(timer.workflowId);
      if (!run || run.closed || run.timers.get(timer.key) !== timer) continue;
      if (await this.fire(run, timer)) fired++;
    }
    return fired;
  }

  private async fire(run: Run, timer: TimerEntry): Promise<boolean> {
    switch (timer.kind) {
      case "sleep":
        this.append(run, { type: "TimerFired", timerSeq: timer.seq });
        break;
      case "signalTimeout": {
        if (run.status === "blocked") return false;
        const execution = await this.ensureExecution(run);
        if (!execution || !execution.isWaiting(timer.seq)) {
          run.timers.delete(timer.key);
          return false;
        }
        this.append(run, {
          type: "SignalWaitTimedOut",
          waitSeq: timer.seq,
          signalName: timer.signalName ?? "",
        });
        break;
      }
      case "retry": {
        const step = run.steps.get(timer.seq);
        if (!step || step.status !== "backoff" || step.attempt + 1 !== timer.attempt) return false;
        this.schedule(run, step, timer.attempt);
        return true;
      }
      case "stepTimeout":
      case "heartbeat":
      case "scheduleToStart": {
        const step = run.steps.get(timer.seq);
        const live =
          timer.kind === "scheduleToStart"
            ? step?.status === "scheduled"
            : step?.status === "started" || step?.status === "scheduled";
        if (!step || step.attempt !== timer.attempt || !live) return false;
        const error = attemptTimeout(timer.kind, step);
        this.failAttempt(run, step.seq, step.attempt, null, error);
        // A lost attempt may still run somewhere (a hung handler, a worker cut off): tell its
        // worker, which aborts the step's signal or never starts it; a report it still sends
        // is only recorded as ignored.
        if (timer.kind !== "stepTimeout") this.noticeAttempts(run, [step], error.message);
        break;
      }
      case "workflowTimeout": {
        // Attempts waiting for their retry run nowhere: only those scheduled or running are told.
        const running = [...run.steps.values()].filter(
          (s) => s.status === "scheduled" || s.status === "started",
        );
        const deadline = new Date(run.executionDeadline!).toISOString();
        const message = executionTimeoutMessage(run);
        this.append(run, {
          type: "WorkflowFailed",
          error: {
            name: "WorkflowTimeoutError",
            message,
            stack: null,
            terminal: true,
            code: "WORKFLOW_TIMEOUT",
          },
        });
        this.log.info({ workflowId: run.workflowId, deadline }, "run timed out");
        this.noticeAttempts(run, running, message);
        break;
      }
    }
    await this.advance(run);
    return true;
  }

  /** The attempt's StepStarted, from its started report or from a result that carries it. */
  private recordStart(
    run: Run,
    stepSeq: number,
    attempt: number,
    workerId: string,
    startedAt: number,
  ): void {
    this.append(run, { type: "StepStarted", stepSeq, attempt, workerId, startedAt });
  }

  /** Why a step report must be ignored, or undefined when it is the one to apply. */
  private checkReport(run: Run, stepSeq: number, attempt: number): string | undefined {
    const step = run.steps.get(stepSeq) ?? run.finishedStep(stepSeq);
    if (!step) return `no step ${stepSeq} was scheduled`;
    if (attempt !== step.attempt)
      return `stale attempt ${attempt}: the current attempt is ${step.attempt}`;
    if (step.status === "completed") return `attempt ${attempt} already completed`;
    if (step.status === "cancelled") return `step ${stepSeq} was cancelled with its scope`;
    if (step.status === "failed" || step.status === "backoff") {
      return `attempt ${attempt} already failed (timed out or reported)`;
    }
    return undefined;
  }

  private failAttempt(
    run: Run,
    stepSeq: number,
    attempt: number,
    workerId: string | null,
    error: ErrorInfo,
  ): void {
    const step = run.steps.get(stepSeq)!;
    const policy = JSON.parse(step.retryPolicy) as ResolvedRetryPolicy;
    const willRetry = shouldRetry(policy, attempt, error);
    this.append(run, { type: "StepFailed", stepSeq, attempt, workerId, error, willRetry });
    if (willRetry) {
      const delayMs = retryDelayMs(policy, attempt);
      this.append(run, {
        type: "StepRetryScheduled",
        stepSeq,
        nextAttempt: attempt + 1,
        delayMs,
        dueAt: this.now + delayMs,
      });
    }
  }

  /**
   * Lets the workflow code see the new events and records what it decides next, until it
   * waits on something that has not happened yet.
   */
  private async advance(run: Run): Promise<void> {
    try {
      await this.advanceExecution(run);
    } finally {
      this.touch(run);
    }
  }

  /** Keeps at most `executionCacheSize` live executions; evicted runs replay on their next event. */
  private touch(run: Run): void {
    // A run continued as new has left the cache; the run that took its ID may be in it.
    if (this.cached.get(run.workflowId) === run) this.cached.delete(run.workflowId);
    if (run.execution) this.cached.set(run.workflowId, run);
    while (this.cached.size > this.executionCacheSize) {
      const [oldestId, oldest] = this.cached.entries().next().value as [string, Run];
      this.cached.delete(oldestId);
      oldest.execution = undefined;
    }
  }

  private async advanceExecution(run: Run): Promise<void> {
    if (run.closed || run.status === "blocked") {
      run.undelivered = [];
      return;
    }
    const execution = await this.ensureExecution(run);
    if (!execution) return;
    for (;;) {
      while (run.undelivered.length > 0 && !execution.outcome) {
        await execution.deliver(run.undelivered.shift()!);
      }
      run.undelivered = [];
      const outcome = execution.outcome;
      if (outcome?.kind === "blocked") {
        this.block(run, outcome.code, outcome.reason);
        return;
      }
      // Patches the code took, before all else it did: each decided between what follows.
      for (const marker of execution.takePatchMarkers())
        this.append(run, { type: "PatchMarked", ...marker });
      // The state the code set, before what it decided next (or how it ended): recorded only
      // when it changed, once per decision however often the code set it.
      const state = execution.stateChange();
      if (state !== undefined) this.append(run, { type: "StateUpdated", state });
      // Code that cancelled a scope and ended in the same drive: the cancels of operations
      // history holds are recorded before the close, so history shows what was stopped and a
      // replay that makes them again finds them (its other new commands are not: it ended).
      if (outcome) {
        for (const command of execution.newCommands())
          if (command.kind === "cancel" && execution.isRecorded(command.seq))
            this.record(run, command);
      }
      if (outcome?.kind === "completed") {
        this.append(run, { type: "WorkflowCompleted", result: outcome.result });
        return;
      }
      if (outcome?.kind === "failed") {
        this.append(run, { type: "WorkflowFailed", error: outcome.error });
        return;
      }
      if (outcome?.kind === "cancelled") {
        this.append(run, {
          type: "WorkflowCancelled",
          reason: outcome.reason,
          requestId: outcome.requestId,
        });
        return;
      }
      if (outcome?.kind === "continuedAsNew") {
        await this.continueAsNew(run, outcome.input);
        return;
      }
      const commands = execution.newCommands();
      if (commands.length === 0) return;
      try {
        for (const command of commands) this.record(run, command);
      } catch (err) {
        // What the code asked for cannot be recorded (e.g. a retry policy that contradicts
        // itself). The events before it are facts; the run parks, visibly, until the code is
        // fixed, instead of waiting for nothing.
        const info = errorInfo(err);
        this.block(
          run,
          info.code ?? "DECISION_FAILED",
          `the decider could not record what the workflow asked for: ${info.message}`,
        );
        return;
      }
    }
  }

  /**
   * Closes the run and starts the next under the same workflow ID, in the same decision: its
   * history continues after the closed run's (gapless), its changelog record replaces the
   * closed run's, and the closed run's sealed chunks are erased first (the next run's chunks
   * take the same keys).
   */
  private async continueAsNew(run: Run, input: string): Promise<void> {
    const chain = (this.continuedInBatch.get(run.workflowId) ?? 0) + 1;
    if (chain > MAX_CONTINUES_PER_DECISION) {
      // Code that continues as new before waiting on anything would loop here for ever.
      this.block(
        run,
        "CONTINUE_AS_NEW_LOOP",
        `the run continued as new ${MAX_CONTINUES_PER_DECISION} times in one decision without waiting on a step, timer or signal`,
      );
      return;
    }
    this.continuedInBatch.set(run.workflowId, chain);
    this.append(run, { type: "WorkflowContinuedAsNew", input });
    for (let index = 0; index < run.chunksAtClose; index++)
      this.out.changes.push({ kind: "erase", workflowId: run.workflowId, index });
    const next = new Run(
      run.workflowId,
      run.workflowType,
      input,
      this.now,
      this.chunkBytes,
      run.lastSeq + 1,
    );
    this.reopen(run.workflowId);
    this.runs.set(run.workflowId, next);
    // The execution timeout spans the chain: the next run keeps the first run's deadline.
    this.append(next, {
      type: "WorkflowStarted",
      workflowType: run.workflowType,
      input,
      idempotencyKey: null,
      requestId: null,
      executionDeadline: run.executionDeadline,
      executionTimeoutMs: run.executionTimeoutMs,
      definitionHash: this.registry.workflowHash(run.workflowType) ?? null,
      // The chain is one child to its parent: the last run's close is reported.
      parent: run.parent,
    });
    await this.advance(next);
  }

  /** Creates the run's execution, replaying its history, unless it is cached. */
  private async ensureExecution(run: Run): Promise<WorkflowExecution | undefined> {
    if (run.execution) return run.execution;
    const definition = this.registry.workflows.get(run.workflowType);
    if (!definition) {
      this.block(
        run,
        "UNKNOWN_WORKFLOW_TYPE",
        `no workflow type ${JSON.stringify(run.workflowType)} is defined in this decider`,
      );
      return undefined;
    }
    const execution = new WorkflowExecution(
      definition,
      run.workflowId,
      run.input,
      run.startedAt,
      run.startSeq,
    );
    try {
      // The undelivered events are the last ones appended; the execution sees them next.
      const all = run.events();
      const replayed = all.slice(0, all.length - run.undelivered.length);
      execution.replaying(replayed);
      await execution.replay(replayed);
    } catch (err) {
      this.block(run, "REPLAY_FAILED", `replay threw: ${errorInfo(err).message}`);
      return undefined;
    }
    if (execution.outcome?.kind === "blocked") {
      this.block(run, execution.outcome.code, execution.outcome.reason);
      return undefined;
    }
    run.execution = execution;
    return execution;
  }

  private block(run: Run, code: string, reason: string): void {
    run.execution = undefined;
    run.undelivered = [];
    if (run.blockedReason === reason) {
      run.status = "blocked";
      return;
    }
    this.log.warn({ workflowId: run.workflowId, code, reason }, "run blocked");
    this.append(run, { type: "WorkflowBlocked", code, reason });
  }

  private record(run: Run, command: WorkflowCommand): void {
    switch (command.kind) {
      case "step": {
        const definition = this.registry.workflows.get(run.workflowType)!;
        const policy = this.registry.stepPolicy(definition, command.stepName, command.options);
        const spec: StepSpec = {
          seq: command.seq,
          name: command.stepName,
          input: command.input,
          taskQueue: policy.taskQueue,
          timeoutMs: policy.timeoutMs,
          retryPolicy: JSON.stringify(policy.retry),
          heartbeatTimeoutMs: policy.heartbeatTimeoutMs,
          scheduleToStartTimeoutMs: policy.scheduleToStartTimeoutMs,
          lastHeartbeatDetails: null,
        };
        const reused = run.reused?.get(command.seq);
        if (reused && reused.stepName === command.stepName) this.reuse(run, spec, reused.result);
        else this.schedule(run, spec, 1);
        break;
      }
      case "sleep":
        this.append(run, {
          type: "TimerStarted",
          timerSeq: command.seq,
          durationMs: command.durationMs,
          dueAt: this.now + command.durationMs,
        });
        break;
      case "child":
        this.append(run, {
          type: "ChildWorkflowScheduled",
          childSeq: command.seq,
          childWorkflowId: command.childWorkflowId,
          workflowType: command.workflowType,
          input: command.input,
          parentClosePolicy: command.parentClosePolicy,
        });
        // Deduplicated by the child's ID (and parent link) at its decider: a start repeated
        // for whatever reason never makes a second child.
        this.out.commands.push({
          workflowId: command.childWorkflowId,
          sentAt: this.now,
          body: {
            type: "StartWorkflow",
            workflowType: command.workflowType,
            input: command.input,
            idempotencyKey: null,
            requestId: `${run.workflowId}/${command.seq}`,
            idReusePolicy: null,
            signal: null,
            executionTimeoutMs: null,
            parent: { workflowId: run.workflowId, childSeq: command.seq },
          },
        });
        break;
      case "signalWait":
        this.append(run, {
          type: "SignalWaitStarted",
          waitSeq: command.seq,
          signalName: command.signalName,
          timeoutMs: command.timeoutMs,
          dueAt: command.timeoutMs === null ? null : this.now + command.timeoutMs,
        });
        break;
      case "cancel":
        this.cancelOperation(run, command.of, command.reason);
        break;
    }
  }

  /**
   * The code cancelled the scope of a pending operation (`scope.cancel`): records the cancel
   * (replay matches it by the operation's seq) and stops what runs for the operation. A step's
   * attempt scheduled or running gets a StepCancel notice, and the step takes no more reports;
   * a timer or a signal wait's timeout leaves the timers (it never fires); a child still open
   * gets its parent-close policy. Recorded also when the operation ended meanwhile (its result
   * in this same decision, not yet seen by the code): a replay expects it.
   */
  private cancelOperation(run: Run, op: OperationCommand, reason: string | null): void {
    switch (op.kind) {
      case "step": {
        const step = run.steps.get(op.seq);
        const live = step?.status === "scheduled" || step?.status === "started";
        const attempt = step?.attempt ?? run.finishedStep(op.seq)?.attempt ?? 1;
        this.append(run, { type: "StepCancelled", stepSeq: op.seq, attempt, reason });
        if (step && live) {
          const why = `its scope was cancelled${reason ? `: ${reason}` : ""}`;
          this.noticeAttempts(run, [step], why);
        }
        return;
      }
      case "sleep":
        this.append(run, { type: "TimerCancelled", timerSeq: op.seq, reason });
        return;
      case "signalWait":
        this.append(run, {
          type: "SignalWaitCancelled",
          waitSeq: op.seq,
          signalName: op.signalName,
          reason,
        });
        return;
      case "child": {
        const child = run.children.get(op.seq);
        this.append(run, {
          type: "ChildWorkflowCancelRequested",
          childSeq: op.seq,
          childWorkflowId: op.childWorkflowId,
          reason,
        });
        const how = "cancelled the scope that awaited it";
        const passed = child && parentCloseCommand(run.workflowId, op.seq, child, how, this.now);
        if (passed) this.out.commands.push(passed);
        return;
      }
    }
  }

  /** Records an attempt of the step and hands its task to the step's queue. */
  private schedule(run: Run, step: StepSpec, attempt: number): void {
    this.append(run, {
      type: "StepScheduled",
      stepSeq: step.seq,
      stepName: step.name,
      attempt,
      input: step.input,
      taskQueue: step.taskQueue,
      timeoutMs: step.timeoutMs,
      retryPolicy: step.retryPolicy,
      heartbeatTimeoutMs: step.heartbeatTimeoutMs,
      scheduleToStartTimeoutMs: step.scheduleToStartTimeoutMs,
    });
    this.out.tasks.push({
      queue: step.taskQueue,
      task: {
        workflowId: run.workflowId,
        workflowType: run.workflowType,
        stepSeq: step.seq,
        stepName: step.name,
        attempt,
        input: step.input,
        idempotencyKey: stepIdempotencyKey(run.workflowId, step.seq),
        timeoutMs: step.timeoutMs,
        dispatchedAt: this.now,
        heartbeatTimeoutMs: step.heartbeatTimeoutMs,
        lastHeartbeatDetails: step.lastHeartbeatDetails,
      },
    });
  }

  /**
   * A reset run's step before its reset point: recorded as scheduled and completed in one go
   * with the source run's result (no task, no worker), marked with where the result came from.
   * The code gets it as the next event, as it would a worker's.
   */
  private reuse(run: Run, step: StepSpec, result: string): void {
    this.append(run, {
      type: "StepScheduled",
      stepSeq: step.seq,
      stepName: step.name,
      attempt: 1,
      input: step.input,
      taskQueue: step.taskQueue,
      timeoutMs: null,
      retryPolicy: step.retryPolicy,
      heartbeatTimeoutMs: null,
      // None: no worker is asked, so no limit on one starting it.
      scheduleToStartTimeoutMs: null,
    });
    this.append(run, {
      type: "StepCompleted",
      stepSeq: step.seq,
      attempt: 1,
      workerId: null,
      result,
      reusedFrom: run.resetSource ?? null,
    });
  }

  /**
   * Tells the workers of these attempts, scheduled or running, that they are no longer wanted
   * (a StepCancel notice: the worker aborts the step's signal, or does not start it).
   */
  private noticeAttempts(run: Run, steps: readonly StepState[], reason: string): void {
    for (const step of steps) {
      this.out.cancels.push({
        queue: step.taskQueue,
        cancel: {
          workflowId: run.workflowId,
          stepSeq: step.seq,
          attempt: step.attempt,
          reason,
          requestId: "",
        },
      });
    }
  }

  /**
   * A new run's execution deadline: its start's executionTimeoutMs, else its workflow's; null
   * without either.
   */
  private executionLimit(
    workflowType: string,
    requested?: number | null,
  ): { executionDeadline: number | null; executionTimeoutMs: number | null } {
    // The front ends refuse a limit that is not positive; one that got through anyway is not
    // taken as a deadline already past.
    const limit =
      requested !== null && requested !== undefined && requested > 0
        ? requested
        : this.registry.workflows.get(workflowType)?.options.executionTimeoutMs;
    return limit === undefined
      ? { executionDeadline: null, executionTimeoutMs: null }
      : { executionDeadline: this.now + limit, executionTimeoutMs: limit };
  }

  /**
   * In the decision that closes a run: its parent is told how it ended (unless it continued
   * as new: the next run of the chain reports), and its open children get their
   * parent-close policy.
   */
  private closeFamily(run: Run, body: EventBody, children: [number, OpenChild][]): void {
    if (run.parent) {
      const report = childClosedReport(run.workflowId, run.parent, body, this.now);
      if (report) this.out.commands.push(report);
    }
    const how =
      run.status === "continued"
        ? "continued as new"
        : run.status === "cancelled"
          ? "was cancelled"
          : run.status;
    for (const [seq, child] of children) {
      if (child.policyPassed) continue;
      const passed = parentCloseCommand(run.workflowId, seq, child, how, this.now);
      if (passed) this.out.commands.push(passed);
    }
  }

  private append(run: Run, body: EventBody): void {
    const event: HistoryEvent = {
      workflowId: run.workflowId,
      seq: run.lastSeq + 1,
      at: this.now,
      body,
    };
    const closing = TERMINAL_EVENT_TYPES.has(body.type) || body.type === "WorkflowContinuedAsNew";
    // Taken before the fold: a closing event releases what the run held.
    const children: [number, OpenChild][] = closing ? [...run.children] : [];
    run.fold(
      event,
      (t) => this.timers.push(t),
      true,
      (t) => this.timers.remove(t),
    );
    if (closing && run.closed && children.length + (run.parent ? 1 : 0) > 0)
      this.closeFamily(run, body, children);
    this.out.events.push(event);
    this.touched.set(run.workflowId, run);
    if (run.closed) this.forget(run, event.at);
    else run.undelivered.push(event);
  }
}

/** Whether a start's parent link is the one the run was started with. */
function sameParent(a: ParentLink | null, b: ParentLink): boolean {
  return a !== null && a.workflowId === b.workflowId && a.childSeq === b.childSeq;
}

/** What a step is scheduled with: its definition as the run recorded it. */
type StepSpec = Pick<
  StepState,
  | "seq"
  | "name"
  | "input"
  | "taskQueue"
  | "timeoutMs"
  | "retryPolicy"
  | "heartbeatTimeoutMs"
  | "scheduleToStartTimeoutMs"
  | "lastHeartbeatDetails"
>;

/** The failure of an attempt whose limit (start-to-close, heartbeat, schedule-to-start) passed. */
function attemptTimeout(
  kind: "stepTimeout" | "heartbeat" | "scheduleToStart",
  step: StepState,
): ErrorInfo {
  const attempt = `attempt ${step.attempt} of step ${step.name}`;
  const [name, code, message] =
    kind === "stepTimeout"
      ? ["StepTimeoutError", "STEP_TIMEOUT", `${attempt} ran longer than ${step.timeoutMs} ms`]
      : kind === "heartbeat"
        ? [
            "StepHeartbeatTimeoutError",
            "STEP_HEARTBEAT_TIMEOUT",
            `${attempt} did not heartbeat for ${step.heartbeatTimeoutMs} ms: taken as lost`,
          ]
        : [
            "StepScheduleToStartTimeoutError",
            "STEP_SCHEDULE_TO_START_TIMEOUT",
            `${attempt} was not started by any worker within ${step.scheduleToStartTimeoutMs} ms`,
          ];
  return { name, message, stack: null, terminal: false, code };
}

/**
 * What a run that hit its execution timeout is told, and its running steps with it: which
 * limit, how long, from when and when it passed. A run recorded before history v8 knows only
 * its deadline.
 */
export function executionTimeoutMessage(
  run: Pick<Run, "workflowId" | "executionDeadline" | "executionTimeoutMs" | "startedAt">,
): string {
  const deadline = run.executionDeadline ?? 0;
  const at = new Date(deadline).toISOString();
  const limit = run.executionTimeoutMs;
  if (limit === null)
    return `workflow ${run.workflowId} timed out: it was still open at its execution deadline, ${at}`;
  const from = new Date(deadline - limit).toISOString();
  // A run continued as new keeps the deadline of its chain's first run.
  const counted =
    deadline - limit === run.startedAt
      ? "its start"
      : "the start of the first run of its continue-as-new chain";
  return (
    `workflow ${run.workflowId} timed out: it was still open when its execution timeout ` +
    `(executionTimeoutMs) of ${plainDuration(limit)} passed at ${at}, counted from ${counted} at ${from}`
  );
}

/** `250 ms`, `45 s`, `30 min`, `6 h 30 min`, `2 d 4 h`: a limit as a person reads it. */
export function plainDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [i, [size, unit]] of units.entries()) {
    if (ms < size) continue;
    const whole = Math.floor(ms / size);
    const next = units[i + 1];
    const rest = next ? Math.floor((ms % size) / next[0]) : 0;
    return rest > 0 && next ? `${whole} ${unit} ${rest} ${next[1]}` : `${whole} ${unit}`;
  }
  return `${ms} ms`;
}

function closedStatus(status: string | undefined): ClosedStatus {
  return status !== undefined && isClosedStatus(status) ? status : "completed";
}
