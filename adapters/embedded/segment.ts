import type { RecordIndex } from "./partition-index";
import { type KeyCollector } from "./segment-index";

/** A topic of the log. */
export interface TopicState {
  readonly name: string;
  readonly compacted: boolean;
  /**
   * Delete-policy topics: how long records every consumer group committed past are kept once
   * their segment is sealed; -1 for ever (history); undefined: the log's default.
   */
  readonly retentionMs: number | undefined;
  readonly partitions: PartitionState[];
}

export interface PartitionState {
  readonly topic: TopicState;
  readonly partition: number;
  readonly index: RecordIndex;
  readonly waiters: Set<() => void>;
  /** Compacted topics only: each live key → the offset of its last record. */
  readonly latest?: Map<string, number>;
}

/** The offsets of one partition's records in one segment: consecutive, as appends are. */
export interface RecordRange {
  first: number;
  last: number;
  /** Retention forgot them (every group had committed past, and they were old enough). */
  dropped: boolean;
}

/** What the log knows of one segment file, in memory: a few numbers per partition it holds. */
export class Segment {
  readonly ranges = new Map<PartitionState, RecordRange>();
  /**
   * Records that keep the segment whatever consumers commit: the live records of compacted
   * topics (not yet superseded) and those of topics kept for ever.
   */
  pinned = 0;
  /** It holds a compacted topic's tombstone: deleting it before older segments would revive the key. */
  tombstones = false;
  /** When it was sealed; undefined while it is the active segment. */
  sealedAt: number | undefined;
  /** Read-only descriptor, opened on first read. */
  fd: number | undefined;
  /** Compacted partitions' keys, kept while the segment is active, for its index. */
  keys: Map<PartitionState, KeyCollector> | undefined = new Map();

  constructor(
    readonly id: number,
    readonly file: string,
    public size: number,
  ) {}

  addRecord(partition: PartitionState, offset: number): void {
    const range = this.ranges.get(partition);
    if (range) range.last = offset;
    else this.ranges.set(partition, { first: offset, last: offset, dropped: false });
  }
}
