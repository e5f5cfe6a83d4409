import { NO_SEGMENT, type RecordIndex } from "./partition-index";

/** Forgotten entries tolerated before the arrays are packed: at least this many, and half. */
const PACK_AFTER = 1024;

/**
 * Where a compacted partition's live records are: one entry per record still held (the last
 * of each key, and records not yet superseded), in offset order, in four typed arrays. A
 * compacted topic (the run changelog) gets a record each time a run changes and keeps only
 * the last of each key, so almost all of its offsets are gaps: an entry per offset, as
 * PartitionIndex keeps, would grow by 12 bytes with every change of every run ever, while this
 * grows with the keys held (the open runs). Gaps cost nothing to skip (`nextHeld`).
 */
export class CompactedIndex implements RecordIndex {
  /** The first offset that may hold a record (compaction leaves it; a deleted segment moves it). */
  private low = 0;
  private high = 0;
  /** Entries in the arrays, forgotten ones included. */
  private count = 0;
  private forgotten = 0;
  private offsets = new Float64Array(16);
  private segments = new Int32Array(16);
  private positions = new Uint32Array(16);
  private slots = new Int32Array(16);
  /** The entry `find` answered last: fetches ask segment, position and slot of one offset. */
  private last = -1;

  readonly keepsSealedOnDisk = false;
  readonly sealedRanges = 0;

  get start(): number {
    return this.low;
  }

  get end(): number {
    return this.high;
  }

  get held(): number {
    return this.count;
  }

  put(offset: number, segment: number, position: number, slot: number): void {
    if (this.low === this.high && this.count === 0) this.low = this.high = offset;
    if (offset < this.high) throw new RangeError(`offset ${offset} is below the end ${this.high}`);
    if (this.count === this.offsets.length) this.resize(this.count * 2);
    const at = this.count++;
    this.offsets[at] = offset;
    this.segments[at] = segment;
    this.positions[at] = position;
    this.slots[at] = slot;
    this.high = offset + 1;
  }

  extendTo(end: number): void {
    if (end <= this.high) return;
    if (this.low === this.high && this.count === 0) this.low = end;
    this.high = end;
  }

  putSealed(): void {
    throw new Error("a compacted partition keeps its records' positions in memory");
  }

  seal(): void {
    // Nothing to move: the entries are the live records, wherever they are.
  }

  segmentOf(offset: number): number {
    if (offset < this.low || offset >= this.high) return NO_SEGMENT;
    const at = this.find(offset);
    return at < 0 ? NO_SEGMENT : this.segments[at]!;
  }

  positionOf(offset: number): number {
    return this.positions[this.found(offset)]!;
  }

  slotOf(offset: number): number {
    return this.slots[this.found(offset)]!;
  }

  nextHeld(from: number, limit: number): number {
    const to = Math.min(limit, this.high);
    for (let at = this.lowerBound(Math.max(from, this.low)); at < this.count; at++) {
      const offset = this.offsets[at]!;
      if (offset >= to) break;
      if (this.segments[at] !== NO_SEGMENT) return offset;
    }
    return Math.max(from, to);
  }

  forget(offset: number): void {
    const at = this.find(offset);
    if (at < 0 || this.segments[at] === NO_SEGMENT) return;
    this.segments[at] = NO_SEGMENT;
    this.forgotten++;
    this.packIfSparse();
  }

  forgetRange(first: number, last: number): void {
    const from = Math.max(first, this.low);
    for (let at = this.lowerBound(from); at < this.count && this.offsets[at]! <= last; at++) {
      if (this.segments[at] === NO_SEGMENT) continue;
      this.segments[at] = NO_SEGMENT;
      this.forgotten++;
    }
    // A gone prefix moves the low watermark to the first record still held, as retention does.
    if (from === this.low) this.low = this.nextHeld(this.low, this.high);
    this.packIfSparse();
  }

  /** The entry of `offset`, or -1 when it has none or its record was forgotten. */
  private find(offset: number): number {
    if (this.last >= 0 && this.last < this.count && this.offsets[this.last] === offset)
      return this.segments[this.last] === NO_SEGMENT ? -1 : this.last;
    const at = this.lowerBound(offset);
    if (at >= this.count || this.offsets[at] !== offset || this.segments[at] === NO_SEGMENT)
      return -1;
    this.last = at;
    return at;
  }

  private found(offset: number): number {
    const at = this.find(offset);
    if (at < 0) throw new RangeError(`offset ${offset} holds no record`);
    return at;
  }

  /** The first entry whose offset is at or past `offset` (count when none). */
  private lowerBound(offset: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops forgotten entries once they are most of the arrays: amortised O(1) per record. */
  private packIfSparse(): void {
    if (this.forgotten < PACK_AFTER || this.forgotten * 2 < this.count) return;
    let kept = 0;
    for (let at = 0; at < this.count; at++) {
      if (this.segments[at] === NO_SEGMENT) continue;
      this.offsets[kept] = this.offsets[at]!;
      this.segments[kept] = this.segments[at]!;
      this.positions[kept] = this.positions[at]!;
      this.slots[kept] = this.slots[at]!;
      kept++;
    }
    this.count = kept;
    this.forgotten = 0;
    this.last = -1;
    const size = Math.max(16, kept * 2);
    if (size * 2 <= this.offsets.length) this.resize(size);
  }

  private resize(size: number): void {
    const used = Math.min(this.count, size);
    const grow = <T extends Float64Array | Int32Array | Uint32Array>(from: T, to: T): T => {
      to.set(from.subarray(0, used));
      return to;
    };
    this.offsets = grow(this.offsets, new Float64Array(size));
    this.segments = grow(this.segments, new Int32Array(size));
    this.positions = grow(this.positions, new Uint32Array(size));
    this.slots = grow(this.slots, new Int32Array(size));
  }
}
