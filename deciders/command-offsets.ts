/**
 * The offsets of one owned partition of `weft.commands`, kept so that a committed offset only
 * ever covers commands whose effects are in the same transaction (invariant 2).
 *
 * After an open, everything below `committed` is decided and committed. Each fetched record is
 * admitted only at the next offset; a record behind it is a re-fetch (skipped), a record ahead
 * of it means commands were skipped on the way (a stale fetch, a rewind that did not happen):
 * the owner must drop its state and reopen rather than go on. A gap that a fresh read from the
 * committed offset shows again is real (offsets the log does not hold, e.g. after retention)
 * and is admitted then.
 *
 * A gap inside what the consumer fetched from where the partition is skips nothing: those are
 * records the consumer filters out (transaction markers of commands written in a transaction,
 * by a Kafka trigger for one, and records of aborted transactions). `fetched` records each
 * fetched range that continues from the partition's position, and a record after such a gap
 * is admitted at once, its decision covering the gap.
 *
 * A decision batch may commit only when it continues exactly from `committed`, record after
 * record: `commitOffset` is the one place that turns a batch into an offset, and it throws
 * otherwise.
 */
export type Admission =
  /** Take the record; its decision covers the offsets from `from` up to its own. */
  | { kind: "admit"; from: bigint }
  /** Already admitted (pending or decided): skip it. */
  | { kind: "duplicate" }
  /** Records before it were never admitted: reopen from the committed offset. */
  | { kind: "gap"; expected: bigint; fetched: bigint };

/** A record admitted into a decision batch. */
export interface AdmittedOffset {
  offset: bigint;
  /** The first offset this record accounts for (its own, or the start of a confirmed gap). */
  from: bigint;
}

export class OffsetInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OffsetInvariantError";
  }
}

export class CommandOffsets {
  private nextToAdmit = 0n;
  private committedTo = 0n;
  private suspectedGap: { from: bigint; to: bigint } | undefined;
  /** Every offset below this was fetched, from the position on (filtered records included). */
  private fetchedTo = 0n;

  /** Every command below this offset is decided and committed. */
  get committed(): bigint {
    return this.committedTo;
  }

  /** The next offset a fetched record must have. */
  get next(): bigint {
    return this.nextToAdmit;
  }

  /**
   * Offsets below this hold no command that is not admitted: `next`, and past it the records
   * fetched since that the consumer filtered out (commit markers after the last command).
   */
  get covered(): bigint {
    return this.fetchedTo > this.nextToAdmit ? this.fetchedTo : this.nextToAdmit;
  }

  /** A (re)open: state is restored up to `committed`, nothing is pending. */
  openAt(committed: bigint): void {
    this.committedTo = committed;
    this.nextToAdmit = committed;
    this.fetchedTo = committed;
  }

  /**
   * The consumer fetched offsets `first` to `last`, records it filters out included (its
   * batch's range). Counted only when it continues from what was admitted or fetched before:
   * a fetch that starts further on (a stale one) may have skipped records.
   */
  fetched(first: bigint, last: bigint): void {
    const position = this.fetchedTo > this.nextToAdmit ? this.fetchedTo : this.nextToAdmit;
    if (first <= position && last + 1n > this.fetchedTo) this.fetchedTo = last + 1n;
  }

  admit(offset: bigint): Admission {
    if (offset < this.nextToAdmit) return { kind: "duplicate" };
    const from = this.nextToAdmit;
    if (offset > from && offset <= this.fetchedTo) {
      // Only filtered records in between: nothing was skipped.
      this.nextToAdmit = offset + 1n;
      return { kind: "admit", from };
    }
    if (offset > from) {
      const seen = this.suspectedGap;
      if (!seen || seen.from !== from || seen.to !== offset) {
        this.suspectedGap = { from, to: offset };
        return { kind: "gap", expected: from, fetched: offset };
      }
      this.suspectedGap = undefined;
    }
    this.nextToAdmit = offset + 1n;
    return { kind: "admit", from };
  }

  /**
   * The offset to commit with a batch's effects. Throws unless the batch starts at the
   * committed offset and each record follows the one before it.
   */
  commitOffset(batch: readonly AdmittedOffset[]): bigint {
    let expected = this.committedTo;
    for (const { offset, from } of batch) {
      if (from !== expected)
        throw new OffsetInvariantError(
          `decision batch is not contiguous: expected a record from offset ${expected}, got ${from}..${offset} (committed ${this.committedTo})`,
        );
      expected = offset + 1n;
    }
    // Records right after the batch that hold no command (the commit markers after it; nothing
    // admitted since) are committed with it: otherwise the committed offset would stop short of
    // the partition's end for good, and whoever waits for it to reach the end (a run check, the
    // backlog) would wait on nothing.
    if (expected === this.nextToAdmit && this.fetchedTo > expected) {
      this.nextToAdmit = this.fetchedTo;
      return this.fetchedTo;
    }
    return expected;
  }

  /** The batch's transaction committed with `offset`. */
  committedThrough(offset: bigint): void {
    if (offset < this.committedTo)
      throw new OffsetInvariantError(
        `committed offset would move back from ${this.committedTo} to ${offset}`,
      );
    this.committedTo = offset;
  }
}
