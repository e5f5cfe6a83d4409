/** A position meaning "no record here": a compacted, dropped or deleted offset. */
export const NO_SEGMENT = -1;

/**
 * Where each record of one partition is on disk: for offset `o`, the segment, the frame's
 * byte position in it and the record's place in the frame, in three typed arrays (12 bytes a
 * record, no object per record). The arrays cover `base` to `end`; offsets below `start` are
 * gone (dropped by retention, compacted, or in deleted segments), and the arrays are shifted
 * when that prefix grows, so memory follows the records still held, not every record ever.
 */
export class PartitionIndex {
  /** The offset the arrays' first slot stands for. */
  private base: number;
  /** The low watermark: the first offset that may still hold a record. */
  private low: number;
  /** The high watermark: the offset the next record gets. */
  private high: number;
  private segments: Int32Array;
  private positions: Uint32Array;
  private slots: Int32Array;

  constructor(end = 0) {
    this.base = end;
    this.low = end;
    this.high = end;
    this.segments = new Int32Array(16);
    this.positions = new Uint32Array(16);
    this.slots = new Int32Array(16);
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

  /**
   * Records the record at `offset`, at or past the end (offsets skipped become gaps). An empty
   * index starts at the first offset it is given: opening gives it the records of the sealed
   * segments, oldest first, before the end a checkpoint recorded (`extendTo`).
   */
  put(offset: number, segment: number, position: number, slot: number): void {
    if (this.high === this.base) this.base = this.low = this.high = offset;
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
    if (this.high === this.base) {
      this.base = this.low = this.high = end;
      return;
    }
    this.ensure(end - this.base);
    for (let o = this.high; o < end; o++) this.segments[o - this.base] = NO_SEGMENT;
    this.high = end;
  }

  segmentOf(offset: number): number {
    if (offset < this.low || offset >= this.high) return NO_SEGMENT;
    return this.segments[offset - this.base]!;
  }

  positionOf(offset: number): number {
    return this.positions[offset - this.base]!;
  }

  slotOf(offset: number): number {
    return this.slots[offset - this.base]!;
  }

  /**
   * The offset no longer holds a record (compaction): it reads as a gap, and the low watermark
   * stays, as compaction leaves Kafka's log start offset where it was.
   */
  forget(offset: number): void {
    if (offset < this.low || offset >= this.high) return;
    this.segments[offset - this.base] = NO_SEGMENT;
  }

  /**
   * Forgets `first` to `last` (inclusive): retention dropped them or their segment was
   * deleted. The low watermark moves past a gone prefix, and memory with it.
   */
  forgetRange(first: number, last: number): void {
    const from = Math.max(first, this.low);
    const to = Math.min(last, this.high - 1);
    for (let o = from; o <= to; o++) this.segments[o - this.base] = NO_SEGMENT;
    if (from === this.low) this.advance();
  }

  private advance(): void {
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
