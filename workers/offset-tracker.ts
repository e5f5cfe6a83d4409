/**
 * Tracks the offsets of one partition whose records are processed out of order, and tells
 * which offset is safe to commit: the lowest one not finished yet (Kafka's committed offset
 * is the next record to read), or one past the highest seen when everything finished.
 *
 * Offsets must be tracked in increasing order, as a consumer reads them; they may have gaps
 * (compacted records, transaction markers, aborted records).
 */
export class OffsetTracker {
  /** Tracked offsets in increasing order; finished ones are dropped from the front. */
  private readonly queue: bigint[] = [];
  private readonly unfinished = new Set<bigint>();
  private highest: bigint | undefined;
  private committed: bigint | undefined;

  /**
   * @param committedOffset the offset already committed for this partition, if known: nothing
   *   at or below it is offered for commit again.
   */
  constructor(committedOffset?: string) {
    this.committed = committedOffset === undefined ? undefined : BigInt(committedOffset);
  }

  /** Records that the record at `offset` is being processed. */
  track(offset: string): void {
    const value = BigInt(offset);
    if (this.highest !== undefined && value <= this.highest) {
      throw new RangeError(
        `offset ${offset} tracked after ${this.highest.toString()}: offsets must increase`,
      );
    }
    this.highest = value;
    this.unfinished.add(value);
    this.queue.push(value);
  }

  /**
   * Records that everything up to `offset` was read, without anything left to do (for example
   * a transaction marker at the end of a batch). Ignored when `offset` is not past the highest.
   */
  skipTo(offset: string): void {
    const value = BigInt(offset);
    if (this.highest === undefined || value > this.highest) this.highest = value;
  }

  /** Marks the record at `offset` as done. Returns false when it was not tracked (or already done). */
  finish(offset: string): boolean {
    const value = BigInt(offset);
    if (!this.unfinished.delete(value)) return false;
    while (this.queue.length > 0 && !this.unfinished.has(this.queue[0] as bigint))
      this.queue.shift();
    return true;
  }

  /** The offset to commit (the next record to read), or undefined when nothing new is safe. */
  committable(): string | undefined {
    const next =
      this.queue.length > 0
        ? this.queue[0]
        : this.highest === undefined
          ? undefined
          : this.highest + 1n;
    if (next === undefined) return undefined;
    if (this.committed !== undefined && next <= this.committed) return undefined;
    return next.toString();
  }

  /** Records that `offset` was committed. */
  markCommitted(offset: string): void {
    const value = BigInt(offset);
    if (this.committed === undefined || value > this.committed) this.committed = value;
  }

  /** The last offset committed through this tracker (or given to its constructor). */
  get committedOffset(): string | undefined {
    return this.committed?.toString();
  }

  /** The highest offset tracked or skipped to, if any. */
  get highestTracked(): string | undefined {
    return this.highest?.toString();
  }

  /** How many tracked records are not finished. */
  get pending(): number {
    return this.unfinished.size;
  }

  /** The lowest unfinished offset, if any. */
  get lowestUnfinished(): string | undefined {
    return this.queue[0]?.toString();
  }
}
