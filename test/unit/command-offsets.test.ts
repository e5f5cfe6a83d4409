import { CommandOffsets, OffsetInvariantError } from "../../deciders/command-offsets";

const batchOf = (offsets: CommandOffsets, ...records: number[]) =>
  records.map((o) => {
    const admission = offsets.admit(BigInt(o));
    if (admission.kind !== "admit") throw new Error(`offset ${o}: ${admission.kind}`);
    return { offset: BigInt(o), from: admission.from };
  });

describe("CommandOffsets", () => {
  it("admits records in order from the committed offset and commits past the last", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(10n);
    const batch = batchOf(offsets, 10, 11, 12);
    expect(offsets.commitOffset(batch)).toBe(13n);
    offsets.committedThrough(13n);
    expect(offsets.committed).toBe(13n);
  });

  it("skips a re-fetch of what is already admitted", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(0n);
    batchOf(offsets, 0, 1);
    expect(offsets.admit(0n)).toEqual({ kind: "duplicate" });
    expect(offsets.admit(1n)).toEqual({ kind: "duplicate" });
    expect(offsets.next).toBe(2n);
  });

  it("refuses a record past the next offset until a read from the committed offset shows the same gap", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(5n);
    expect(offsets.admit(8n)).toEqual({ kind: "gap", expected: 5n, fetched: 8n });
    // Reopened: the same read again is a gap the log really has.
    offsets.openAt(5n);
    expect(offsets.admit(8n)).toEqual({ kind: "admit", from: 5n });
    expect(offsets.commitOffset([{ offset: 8n, from: 5n }])).toBe(9n);
  });

  it("a different gap after the reopen is refused again", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(5n);
    expect(offsets.admit(8n).kind).toBe("gap");
    offsets.openAt(5n);
    expect(offsets.admit(7n).kind).toBe("gap");
  });

  it("admits a record after records the consumer filtered out of a fetch from the position", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(5n);
    // Offsets 5-6 commands, 7 a transaction marker, 8 a command: one fetch.
    offsets.fetched(5n, 8n);
    const batch = batchOf(offsets, 5, 6, 8);
    expect(batch.at(-1)).toEqual({ offset: 8n, from: 7n });
    expect(offsets.commitOffset(batch)).toBe(9n);
  });

  it("admits a record after a marker that ended the fetch before, or came alone", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(0n);
    offsets.fetched(0n, 2n); // 0-1 commands, 2 the marker
    batchOf(offsets, 0, 1);
    offsets.fetched(3n, 3n); // an aborted transaction's marker, fetched alone
    offsets.fetched(4n, 5n);
    expect(offsets.admit(5n)).toEqual({ kind: "admit", from: 2n });
  });

  it("counts no fetch that starts past the position, and forgets fetches at a reopen", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(5n);
    offsets.fetched(8n, 10n);
    expect(offsets.admit(8n)).toEqual({ kind: "gap", expected: 5n, fetched: 8n });
    const reopened = new CommandOffsets();
    reopened.openAt(0n);
    reopened.fetched(0n, 5n);
    reopened.openAt(0n);
    expect(reopened.admit(3n).kind).toBe("gap");
  });

  it("refuses to commit a batch that does not continue from the committed offset", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(3n);
    expect(() => offsets.commitOffset([{ offset: 4n, from: 4n }])).toThrow(OffsetInvariantError);
    expect(() =>
      offsets.commitOffset([
        { offset: 3n, from: 3n },
        { offset: 5n, from: 5n },
      ]),
    ).toThrow(/not contiguous/);
  });

  it("never moves the committed offset back", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(9n);
    expect(() => offsets.committedThrough(4n)).toThrow(OffsetInvariantError);
  });

  it("admits past offsets the broker showed hold no command (commit markers) without a reopen", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(0n);
    const batch = batchOf(offsets, 0);
    // A batch 1..4 whose offsets 1 and 3 are commit markers: contiguous from 1, so no gap.
    offsets.fetched(1n, 4n);
    const second = offsets.admit(2n);
    const fourth = offsets.admit(4n);
    expect([second, fourth]).toEqual([
      { kind: "admit", from: 1n },
      { kind: "admit", from: 3n },
    ]);
    // A fetch of only a marker (5) ahead of the next record (6).
    offsets.fetched(5n, 5n);
    expect(offsets.covered).toBe(6n);
    const sixth = offsets.admit(6n);
    expect(sixth).toEqual({ kind: "admit", from: 5n });
    // The decision batch still covers every offset from the committed one: it may commit.
    batch.push({ offset: 2n, from: 1n }, { offset: 4n, from: 3n }, { offset: 6n, from: 5n });
    expect(offsets.commitOffset(batch)).toBe(7n);
    // Past what any fetch covered, a jump is still a suspected gap.
    expect(offsets.admit(9n)).toEqual({ kind: "gap", expected: 7n, fetched: 9n });
  });

  it("forgets what fetches covered when it reopens", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(0n);
    offsets.fetched(0n, 3n);
    expect(offsets.covered).toBe(4n);
    offsets.openAt(0n);
    expect(offsets.covered).toBe(0n);
    expect(offsets.admit(2n)).toEqual({ kind: "gap", expected: 0n, fetched: 2n });
  });

  it("commits the commit markers right after a batch with it, and not past a record admitted since", () => {
    const offsets = new CommandOffsets();
    offsets.openAt(0n);
    const batch = batchOf(offsets, 0);
    offsets.fetched(1n, 1n); // 1 is the marker of 0's transaction
    expect(offsets.commitOffset(batch)).toBe(2n);
    offsets.committedThrough(2n);
    expect(offsets.next).toBe(2n);
    // The next record continues from there.
    expect(offsets.admit(2n)).toEqual({ kind: "admit", from: 2n });

    const later = new CommandOffsets();
    later.openAt(0n);
    const first = batchOf(later, 0);
    later.fetched(1n, 1n);
    batchOf(later, 2);
    // A record came after the markers: the batch of 0 commits up to itself only.
    expect(later.commitOffset(first)).toBe(1n);
  });
});
