/**
 * Gathers the runs `weft replay workflows` checks from a stream of history events (a topic's
 * partitions read one after another, or files), keeping only those it will replay.
 *
 * The unit is a run: a WorkflowStarted and the events after it up to the next WorkflowStarted of
 * the same workflow ID (a continue-as-new). `checkReplay` replays a run alone, so a filter by
 * start time keeps the recent runs of a long chain without its old ones, and a chain whose first
 * runs retention deleted still has its later runs checked.
 *
 * Memory is bounded by what is kept: the filters (`--workflow-id`, `--type`, `--since`, a type
 * the module defines) are applied when a run's WorkflowStarted arrives, and past `limit` kept
 * runs the one that started first is dropped (a heap by start time), with the events still to
 * come of it. What is left is the `limit` most recently started runs that match, most recent
 * first.
 */
import type { HistoryEvent } from "../../schemas/types";

export interface RunFilter {
  /** Only runs of this workflow ID. */
  readonly workflowId?: string;
  /** Only runs of these workflow types. */
  readonly types?: ReadonlySet<string>;
  /** Only runs started at or after this time (epoch ms). */
  readonly since?: number;
  /** Keep at most this many runs, the most recently started (0: every run). */
  readonly limit: number;
  /** Whether the module defines the type; runs of other types are counted as skipped. */
  readonly known: (workflowType: string) => boolean;
}

export interface CollectedRun {
  readonly workflowId: string;
  readonly workflowType: string;
  /** The seq of the run's WorkflowStarted. */
  readonly startSeq: number;
  readonly startedAt: number;
  readonly events: HistoryEvent[];
}

export interface CollectedRuns {
  /** The runs to replay, most recently started first. */
  readonly runs: CollectedRun[];
  /** Runs that matched the filters, `limit` or not. */
  readonly matched: number;
  /** Runs of types the module does not define, per type. */
  readonly unknownTypes: ReadonlyMap<string, number>;
  /** Workflow IDs with events whose run's WorkflowStarted is not in what was read (retention). */
  readonly withoutStart: number;
}

/** Not kept: filtered out, of an unknown type, or dropped past the limit. */
const SKIP = "skip" as const;

export class RunCollector {
  /** The run each workflow ID's next events belong to. */
  private readonly current = new Map<string, CollectedRun | typeof SKIP>();
  private readonly kept = new RunHeap();
  private readonly unknownTypes = new Map<string, number>();
  private readonly withoutStart = new Set<string>();
  private matched = 0;

  constructor(private readonly filter: RunFilter) {}

  add(event: HistoryEvent): void {
    const body = event.body;
    if (body.type !== "WorkflowStarted") {
      const run = this.current.get(event.workflowId);
      if (run === undefined) this.withoutStart.add(event.workflowId);
      else if (run !== SKIP) run.events.push(event);
      return;
    }
    const f = this.filter;
    const wanted =
      (f.workflowId === undefined || f.workflowId === event.workflowId) &&
      (f.types === undefined || f.types.has(body.workflowType)) &&
      (f.since === undefined || event.at >= f.since);
    if (!wanted) {
      this.current.set(event.workflowId, SKIP);
      return;
    }
    if (!f.known(body.workflowType)) {
      this.unknownTypes.set(body.workflowType, (this.unknownTypes.get(body.workflowType) ?? 0) + 1);
      this.current.set(event.workflowId, SKIP);
      return;
    }
    this.matched++;
    const run: CollectedRun = {
      workflowId: event.workflowId,
      workflowType: body.workflowType,
      startSeq: event.seq,
      startedAt: event.at,
      events: [event],
    };
    this.current.set(event.workflowId, run);
    this.kept.push(run);
    if (f.limit > 0 && this.kept.size > f.limit) {
      const oldest = this.kept.pop()!;
      // Its events still to come are dropped on arrival (a later run of its ID takes them
      // anyway); those it holds are freed now.
      oldest.events.length = 0;
      if (this.current.get(oldest.workflowId) === oldest) this.current.set(oldest.workflowId, SKIP);
    }
  }

  result(): CollectedRuns {
    return {
      runs: this.kept.items().sort((a, b) => compareStart(b, a)),
      matched: this.matched,
      unknownTypes: this.unknownTypes,
      withoutStart: this.withoutStart.size,
    };
  }
}

/** Negative when `a` started before `b` (ties broken by ID and seq: a stable order). */
function compareStart(a: CollectedRun, b: CollectedRun): number {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1;
  if (a.workflowId !== b.workflowId) return a.workflowId < b.workflowId ? -1 : 1;
  return a.startSeq - b.startSeq;
}

/** A binary min-heap of runs by start time: the first started is popped first. */
class RunHeap {
  private readonly heap: CollectedRun[] = [];

  get size(): number {
    return this.heap.length;
  }

  items(): CollectedRun[] {
    return [...this.heap];
  }

  push(run: CollectedRun): void {
    const h = this.heap;
    h.push(run);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (compareStart(h[i]!, h[parent]!) >= 0) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): CollectedRun | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < h.length && compareStart(h[l]!, h[least]!) < 0) least = l;
      if (r < h.length && compareStart(h[r]!, h[least]!) < 0) least = r;
      if (least === i) break;
      [h[i], h[least]] = [h[least]!, h[i]!];
      i = least;
    }
    return top;
  }
}
