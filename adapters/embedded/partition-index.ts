/** A position meaning "no record here": a compacted, dropped or deleted offset. */
export const NO_SEGMENT = -1;

/**
 * Where each record of one partition is: its segment, the frame's byte position in it and the
 * record's place in the frame, by offset. PartitionIndex holds a slot per offset (most topics);
 * CompactedIndex an entry per live record (compacted topics, almost all gaps).
 */
export interface RecordIndex {
  /** The low watermark: the first offset that may still hold a record. */
  readonly start: number;
  /** The high watermark: the offset the next record gets. */
  readonly end: number;
  /** Entries held in memory (for memory figures). */
  readonly held: number;
  /** Sealed ranges held by their segment alone (for memory figures). */
  readonly sealedRanges: number;
  /** Whether sealed records' positions are read back from their segment's index file. */
  readonly keepsSealedOnDisk: boolean;
  /** Records the record at `offset`, at or past the end (offsets skipped become gaps). */
  put(offset: number, segment: number, position: number, slot: number): void;
  /** Moves the end on without a record. */
  extendTo(end: number): void;
  /** Records offsets `first` to `end` (exclusive) as held by sealed `segment` (on disk). */
  putSealed(first: number, end: number, segment: number): void;
  /** The segment holding the records up to `last` was sealed. */
  seal(last: number, segment: number): void;
  /** The segment of the record at `offset`, or NO_SEGMENT for none. */
  segmentOf(offset: number): number;
  /** The frame's position of a record `segmentOf` found. */
  positionOf(offset: number): number;
  /** The record's place in its frame, for a record `segmentOf` found. */
  slotOf(offset: number): number;
  /** The first offset from `from` on, below `limit`, that holds a record; `limit` when none. */
  nextHeld(from: number, limit: number): number;
  /** The offset no longer holds a record (compaction): the low watermark stays. */
  forget(offset: number): void;
  /** Forgets `first` to `last` (inclusive): the low watermark moves past a gone prefix. */
  forgetRange(first: number, last: number): void;
}

/** Where a sealed segment's records of one partition are: its index's block (segment-index.ts). */
export interface SealedLocations {
  /** The block's first offset. */
  readonly first: number;
  /** Per offset from `first`: the frame's byte position, or 0xffffffff for no record. */
  readonly positions: Uint32Array;
  readonly slots: Int32Array;
}

/** Reads a sealed segment's block of this partition from its index file (undefined: none). */
export type SealedLoader = (segment: number) => SealedLocations | undefined;

/** Offsets `first` to `end` (exclusive) whose records are in `segment`, sealed. */
interface ColdRange {
  first: number;
  end: number;
  readonly segment: number;
}

const NO_POSITION = 0xffffffff;

/**
 * Where each record of one partition is on disk: for offset `o`, the segment, the frame's
 * byte position in it and the record's place in the frame, in three typed arrays (12 bytes a
 * record, no object per record). The arrays cover `base` to `end`; offsets below `start` are
 * gone (dropped by retention, compacted, or in deleted segments), and the arrays are shifted
 * when that prefix grows, so memory follows the records still held, not every record ever.
 *
 * A partition kept for ever (history, by default) would still grow by 12 bytes a record for
 * the engine's whole life. Given a `SealedLoader`, such a partition keeps in the arrays only
 * its records in the active segment: a sealed segment's records become one range (a few
 * numbers), whose positions are read back from the segment's index file when a record there is
 * read (the log caches a few indexes), so memory follows the segments, not the records.
 */
export class PartitionIndex implements RecordIndex {
  /** The offset the arrays' first slot stands for. */
  private base: number;
  /** The low watermark: the first offset that may still hold a record. */
  private low: number;
  /** The high watermark: the offset the next record gets. */
  private high: number;
  private segments: Int32Array;
  private positions: Uint32Array;
  private slots: Int32Array;
  /** Sealed records below `base`, by range, oldest first (only with a loader). */
  private readonly cold: ColdRange[] = [];
  /** The block last read back for a cold offset, and the offset `locate` found. */
  private loaded: { range: ColdRange; block: SealedLocations | undefined } | undefined;
  private found = { offset: -1, position: 0, slot: 0 };

  constructor(
    end = 0,
    private readonly loader?: SealedLoader,
  ) {
    this.base = end;
    this.low = end;
    this.high = end;
    this.segments = new Int32Array(16);
    this.positions = new Uint32Array(16);
    this.slots = new Int32Array(16);
  }

  /** Whether sealed records leave the arrays (see the class comment). */
  get keepsSealedOnDisk(): boolean {
    return this.loader !== undefined;
  }

  get start(): number {
    return this.low;
  }

  get end(): number {
    return this.high;
  }

  /** Offsets held in the arrays (for memory figures). */
  get held(): number {
    return this.high - this.base;
  }

  /** Sealed ranges held by their segment alone (for memory figures). */
  get sealedRanges(): number {
    return this.cold.length;
  }

  /**
   * Records the record at `offset`, at or past the end (offsets skipped become gaps). An empty
   * index starts at the first offset it is given: opening gives it the records of the sealed
   * segments, oldest first, before the end a checkpoint recorded (`extendTo`).
   */
  put(offset: number, segment: number, position: number, slot: number): void {
    if (this.isEmpty()) this.base = this.low = this.high = offset;
    if (offset < this.high) throw new RangeError(`offset ${offset} is below the end ${this.high}`);
    this.ensure(offset - this.base + 1);
    for (let o = this.high; o < offset; o++) this.segments[o - this.base] = NO_SEGMENT;
    const at = offset - this.base;
    this.segments[at] = segment;
    this.positions[at] = position;
    this.slots[at] = slot;
    this.high = offset + 1;
  }

  /** Moves the end on without a record (a checkpoint's end beyond the last record held). */
  extendTo(end: number): void {
    if (end <= this.high) return;
    if (this.isEmpty()) {
      this.base = this.low = this.high = end;
      return;
    }
    if (this.high === this.base) {
      // Nothing in the arrays (all sealed): they begin at the new end.
      this.base = this.high = end;
      return;
    }
    this.ensure(end - this.base);
    for (let o = this.high; o < end; o++) this.segments[o - this.base] = NO_SEGMENT;
    this.high = end;
  }

  /**
   * Records `count` offsets from `first` on as held by sealed `segment`, without their
   * positions (opening, for a partition that keeps sealed records on disk): at or past the end,
   * with nothing in the arrays yet.
   */
  putSealed(first: number, end: number, segment: number): void {
    if (!this.loader) throw new Error("this partition keeps its sealed records in memory");
    if (this.high !== this.base) throw new Error("sealed records come before the active ones");
    if (end <= first) return;
    if (first < this.high) throw new RangeError(`offset ${first} is below the end ${this.high}`);
    if (this.isEmpty()) this.low = first;
    this.cold.push({ first, end, segment });
    this.base = this.high = end;
  }

  /**
   * The segment holding the arrays' records up to `last` was sealed: with a loader, they leave
   * the arrays for one range read back from the segment's index.
   */
  seal(last: number, segment: number): void {
    if (!this.loader) return;
    const end = Math.min(last + 1, this.high);
    if (end <= this.base) return;
    this.cold.push({ first: this.base, end, segment });
    this.drop(end - this.base);
  }

  segmentOf(offset: number): number {
    if (offset < this.low || offset >= this.high) return NO_SEGMENT;
    if (offset >= this.base) return this.segments[offset - this.base]!;
    return this.locate(offset);
  }

  nextHeld(from: number, limit: number): number {
    const to = Math.min(limit, this.high);
    for (let o = Math.max(from, this.low); o < to; o++)
      if (this.segmentOf(o) !== NO_SEGMENT) return o;
    return Math.max(from, to);
  }

  /** The frame's position of a record `segmentOf` found. */
  positionOf(offset: number): number {
    if (offset >= this.base) return this.positions[offset - this.base]!;
    return this.foundAt(offset).position;
  }

  /** The record's place in its frame, for a record `segmentOf` found. */
  slotOf(offset: number): number {
    if (offset >= this.base) return this.slots[offset - this.base]!;
    return this.foundAt(offset).slot;
  }

  private isEmpty(): boolean {
    return this.high === this.base && this.cold.length === 0 && this.low === this.high;
  }

  /** A sealed offset's segment, its position and slot kept for positionOf and slotOf. */
  private locate(offset: number): number {
    const range = this.coldRangeOf(offset);
    if (!range) return NO_SEGMENT;
    if (this.loaded?.range !== range) this.loaded = { range, block: this.loader!(range.segment) };
    const block = this.loaded.block;
    const at = offset - (block?.first ?? 0);
    if (!block || at < 0 || at >= block.positions.length) return NO_SEGMENT;
    const position = block.positions[at]!;
    if (position === NO_POSITION) return NO_SEGMENT;
    this.found = { offset, position, slot: block.slots[at]! };
    return range.segment;
  }

  private foundAt(offset: number): { position: number; slot: number } {
    if (this.found.offset !== offset && this.locate(offset) === NO_SEGMENT)
      throw new RangeError(`offset ${offset} holds no record`);
    return this.found;
  }

  private coldRangeOf(offset: number): ColdRange | undefined {
    let lo = 0;
    let hi = this.cold.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const range = this.cold[mid]!;
      if (offset < range.first) hi = mid - 1;
      else if (offset >= range.end) lo = mid + 1;
      else return range;
    }
    return undefined;
  }

  /**
   * The offset no longer holds a record (compaction): it reads as a gap, and the low watermark
   * stays, as compaction leaves Kafka's log start offset where it was.
   */
  forget(offset: number): void {
    // Compaction forgets one record at a time; partitions keeping sealed records on disk are
    // never compacted, so a sealed offset is not forgotten here.
    if (offset < Math.max(this.low, this.base) || offset >= this.high) return;
    this.segments[offset - this.base] = NO_SEGMENT;
  }

  /**
   * Forgets `first` to `last` (inclusive): retention dropped them or their segment was
   * deleted. The low watermark moves past a gone prefix, and memory with it.
   */
  forgetRange(first: number, last: number): void {
    const from = Math.max(first, this.low);
    const to = Math.min(last, this.high - 1);
    if (this.cold.length > 0 && from < this.base)
      this.forgetSealed(from, Math.min(to, this.base - 1));
    for (let o = Math.max(from, this.base); o <= to; o++) this.segments[o - this.base] = NO_SEGMENT;
    if (from === this.low) this.advance();
  }

  /** Cuts `from` to `to` out of the sealed ranges (splitting one the cut falls inside). */
  private forgetSealed(from: number, to: number): void {
    const kept: ColdRange[] = [];
    for (const range of this.cold) {
      if (range.end <= from || range.first > to) kept.push(range);
      else {
        if (range.first < from)
          kept.push({ first: range.first, end: from, segment: range.segment });
        if (range.end > to + 1)
          kept.push({ first: to + 1, end: range.end, segment: range.segment });
      }
    }
    this.cold.splice(0, this.cold.length, ...kept);
    this.loaded = undefined;
    this.found = { offset: -1, position: 0, slot: 0 };
  }

  private advance(): void {
    if (this.cold.length > 0) {
      // The first sealed range may begin with gaps; "may still hold a record" is enough.
      this.low = Math.max(this.low, this.cold[0]!.first);
      return;
    }
    this.low = Math.max(this.low, this.base);
    while (this.low < this.high && this.segments[this.low - this.base] === NO_SEGMENT) this.low++;
    // Shift the arrays once the gone prefix is most of them: amortised O(1) per record.
    const gone = this.low - this.base;
    if (gone >= 1024 && gone * 2 >= this.segments.length) {
      const keep = this.high - this.low;
      this.segments.copyWithin(0, gone, gone + keep);
      this.positions.copyWithin(0, gone, gone + keep);
      this.slots.copyWithin(0, gone, gone + keep);
      this.base = this.low;
      const size = Math.max(16, keep * 2);
      if (size < this.segments.length) this.resize(size);
    }
  }

  /** Removes the arrays' first `count` offsets (sealed away). */
  private drop(count: number): void {
    const keep = this.high - this.base - count;
    this.segments.copyWithin(0, count, count + keep);
    this.positions.copyWithin(0, count, count + keep);
    this.slots.copyWithin(0, count, count + keep);
    this.base += count;
    const size = Math.max(16, keep * 2);
    if (size * 2 <= this.segments.length) this.resize(size);
  }

  private ensure(length: number): void {
    if (length <= this.segments.length) return;
    let size = this.segments.length;
    while (size < length) size *= 2;
    this.resize(size);
  }

  private resize(size: number): void {
    const used = Math.min(this.high - this.base, size);
    const segments = new Int32Array(size);
    segments.set(this.segments.subarray(0, used));
    const positions = new Uint32Array(size);
    positions.set(this.positions.subarray(0, used));
    const slots = new Int32Array(size);
    slots.set(this.slots.subarray(0, used));
    this.segments = segments;
    this.positions = positions;
    this.slots = slots;
  }
}
