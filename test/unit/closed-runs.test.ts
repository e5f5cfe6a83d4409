import fc from "fast-check";
import { ClosedRuns, ENTRY_BYTES, hashId, type ClosedRun } from "../../deciders/closed-runs";

/** What the table must behave like: a map from ID to the run, close times kept to the second. */
type Model = Map<string, ClosedRun>;

const statusArb = fc.constantFrom("completed" as const, "failed" as const, "cancelled" as const);
/** Few distinct IDs, so that sets, deletes and lookups hit the same entries often. */
const idArb = fc.integer({ min: 0, max: 300 }).map((n) => `wf-${n}`);
const opArb = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    id: idArb,
    closedAt: fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000),
    status: statusArb,
    lastSeq: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  }),
  fc.record({ op: fc.constant("delete" as const), id: idArb }),
  fc.record({
    op: fc.constant("expire" as const),
    before: fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000),
  }),
);

describe("ClosedRuns", () => {
  it("behaves as a map of IDs through sets, deletes, expiry, growth and a snapshot round trip", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 2_000 }), (ops) => {
        const table = new ClosedRuns();
        const model: Model = new Map();
        for (const op of ops) {
          if (op.op === "set") {
            const run = { closedAt: op.closedAt, status: op.status, lastSeq: op.lastSeq };
            table.set(op.id, run);
            model.set(op.id, run);
          } else if (op.op === "delete") {
            expect(table.delete(op.id)).toBe(model.delete(op.id));
          } else {
            let dropped = 0;
            let lastSeq = 0;
            for (const [id, run] of model)
              if (run.closedAt < op.before) {
                lastSeq = Math.max(lastSeq, run.lastSeq);
                dropped += Number(model.delete(id));
              }
            expect(table.expire(op.before)).toEqual({ dropped, lastSeq });
          }
          expect(table.size).toBe(model.size);
        }
        for (let n = 0; n <= 300; n++) expect(table.get(`wf-${n}`)).toEqual(model.get(`wf-${n}`));

        // A snapshot in small chunks loads back into the same table.
        const chunks = table.snapshot(5 * ENTRY_BYTES);
        expect(chunks.every((c) => c.length <= 5 * ENTRY_BYTES && c.length > 0)).toBe(true);
        const loaded = new ClosedRuns();
        for (const chunk of chunks) loaded.load(chunk);
        expect(loaded.fingerprint()).toEqual(table.fingerprint());
        expect(loaded.size).toBe(model.size);
      }),
      { numRuns: 200, seed: 20261203 },
    );
  });

  it("holds 200,000 runs in 16 bytes each in a snapshot and finds every one", () => {
    const table = new ClosedRuns();
    for (let i = 0; i < 200_000; i++)
      table.set(`run-${i}`, {
        closedAt: 1_700_000_000_000 + i * 1000,
        status: "completed",
        lastSeq: 11,
      });
    const bytes = table.snapshot(256 * 1024).reduce((n, c) => n + c.length, 0);
    expect(bytes).toBe(200_000 * ENTRY_BYTES);
    for (let i = 0; i < 200_000; i += 997) expect(table.has(`run-${i}`)).toBe(true);
    expect(table.has("run-200000")).toBe(false);
  });

  it("refuses a snapshot chunk that is not a whole number of entries", () => {
    expect(() => new ClosedRuns().load(Buffer.alloc(ENTRY_BYTES + 3))).toThrow(/whole entry/);
  });

  it("gives IDs that differ in one character different hashes", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(hashId(`order-${i}`).join(":"));
    expect(seen.size).toBe(100_000);
  });
});
