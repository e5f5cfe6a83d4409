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
