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
 * Offsets that hold no command are normal where transactions write to the topic (a decider's
 * commands for other runs, a trigger's): each transaction leaves a commit marker, and an
 * aborted one leaves records a read_committed consumer never sees. Within one fetched batch
 * the broker returned a contiguous range, so an offset it skipped there, or after its last
 * record up to the batch's last offset, holds no command: admitted without a reopen
 * (`coveredThrough`).
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
  /** Offsets below this that were not admitted hold no command (the broker skipped them). */
  private coveredTo = 0n;

  /** Every command below this offset is decided and committed. */
  get committed(): bigint {
    return this.committedTo;
  }

  /** The next offset a fetched record must have. */
  get next(): bigint {
    return this.nextToAdmit;
  }

  /** A (re)open: state is restored up to `committed`, nothing is pending. */
  openAt(committed: bigint): void {
    this.committedTo = committed;
    this.nextToAdmit = committed;
    this.coveredTo = committed;
  }

  /**
   * Offsets below this that no record was admitted for: where the broker's fetches showed no
   * command (see `coveredThrough`); at least `next`.
   */
  get covered(): bigint {
    return this.coveredTo > this.nextToAdmit ? this.coveredTo : this.nextToAdmit;
  }

  /**
   * The broker returned a batch that ends at `lastOffset` (a commit marker, say), and every
   * record of it up to here was admitted: the offsets after the last admitted one, up to
   * `lastOffset`, hold no command.
   */
  coveredThrough(lastOffset: bigint): void {
    if (lastOffset + 1n > this.coveredTo) this.coveredTo = lastOffset + 1n;
  }

  /**
   * `afterInBatch`: the record before this one in the same fetched batch (a contiguous range
   * of the log), so the offsets between the two hold no command.
   */
  admit(offset: bigint, afterInBatch?: bigint): Admission {
    if (offset < this.nextToAdmit) return { kind: "duplicate" };
    const from = this.nextToAdmit;
    const skippedByBroker =
      offset <= this.coveredTo || (afterInBatch !== undefined && afterInBatch < from);
    if (offset > from && !skippedByBroker) {
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
    // Commit markers right after the batch (nothing admitted since) are committed with it:
    // otherwise the committed offset would stop short of the partition's end for good, and
    // whoever waits for it to reach the end (a run check, the backlog) would wait on nothing.
    if (expected === this.nextToAdmit && this.coveredTo > expected) {
      this.nextToAdmit = this.coveredTo;
      return this.coveredTo;
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
