import fc from "fast-check";
import { createLogger } from "../../core/logger";
import { encodedEvent, packEvent, unpackEvents } from "../../deciders/packed-events";
import { PartitionState } from "../../deciders/partition-state";
import { historyCodec } from "../../schemas/codec";
import { drive, moveArb, registry, type Recorded } from "../support/random-workload";

/**
 * A decision's events are encoded once: the bytes a run's packed history keeps are the bytes
 * the commit writes to history. Whatever a workload decides, those bytes must be exactly what
 * the history codec makes of the event, and read back as the event.
 */
/** A small event of any run, as a decider would record it. */
const timerFired = (workflowId: string, seq: number, timerSeq: number) => ({
  workflowId,
  seq,
  at: 1_700_000_000_000,
  body: { type: "TimerFired" as const, timerSeq },
});

describe("a decided event's encoding", () => {
  it("is the history codec's, byte for byte, for every event of random workloads", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(moveArb, { minLength: 1, maxLength: 80 }), async (moves) => {
        const state = new PartitionState(0, registry(), createLogger("silent"));
        const recorded: Recorded = { history: [], changelog: [] };
        // A start first, so that every workload decides something.
        await drive([{ kind: 0, a: 0, b: 1 }, ...moves], state, recorded);
        expect(recorded.history.length).toBeGreaterThan(0);
        for (const event of recorded.history) {
          const bytes = encodedEvent(event);
          expect(bytes.equals(historyCodec.encode(event))).toBe(true);
          expect(historyCodec.decode(bytes)).toMatchObject(event);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("frames an event with its length, and a packed event reads back whole", () => {
    const event = timerFired("wf-1", 3, 2);
    const packed = packEvent(event);
    expect(packed.readUInt32BE(0)).toBe(packed.length - 4);
    expect(packed.subarray(4).equals(encodedEvent(event))).toBe(true);
    expect(unpackEvents(Buffer.concat([packed, packEvent({ ...event, seq: 4 })]))).toEqual([
      event,
      { ...event, seq: 4 },
    ]);
  });

  it("is made by the codec for an event no history packed (a closed run's)", () => {
    const event = timerFired("wf-2", 9, 7);
    expect(encodedEvent(event).equals(historyCodec.encode(event))).toBe(true);
  });
});
