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
});
