/**
 * Invariant 6 for signals, the same on every transport: a signal sent again with the request ID
 * of one already recorded (a client retrying a call whose answer it lost) is recorded once and
 * seen once by the workflow code, also when the decider restarted in between and rebuilt its
 * state from history.
 */
import type { HistoryEvent } from "../../schemas/types";
import type { WeftClient } from "../../sdk/client";
import { tally } from "../fixtures/workflows";
import { waitFor } from "../support/env";
import { expectGapless } from "../support/history";

/** A Weft hosting `tally` on the transport under test (the same topics or directory each time). */
export type OpenWeft = () => Promise<{ client: WeftClient; stop(): Promise<void> }>;

const requestIds = (history: HistoryEvent[]) =>
  history.flatMap((e) => (e.body.type === "SignalReceived" ? [e.body.requestId] : []));

export function signalRequestIdScenario(open: OpenWeft): void {
  it("records a signal sent twice with one request ID once, and the code sees it once", async () => {
    const weft = await open();
    try {
      const { workflowId } = await weft.client.start(tally);
      const first = await weft.client.signal(workflowId, "add", { n: 1 });
      const again = await weft.client.signal(
        workflowId,
        "add",
        { n: 1 },
        { requestId: first.requestId },
      );
      expect(again.requestId).toBe(first.requestId);
      const done = await weft.client.signal(workflowId, "add", { done: true });

      expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ seen: [1] });
      const history = await weft.client.getHistory(workflowId);
      expect(requestIds(history)).toEqual([first.requestId, done.requestId]);
      expectGapless(history);
    } finally {
      await weft.stop();
    }
  });

  it("still knows the request ID after the decider restarts and restores from history", async () => {
    const before = await open();
    let workflowId: string;
    try {
      ({ workflowId } = await before.client.start(tally));
      await before.client.signal(workflowId, "add", { n: 2 }, { requestId: "restart-1" });
      await waitFor("the signal to be recorded", async () =>
        requestIds(await before.client.getHistory(workflowId)).includes("restart-1"),
      );
    } finally {
      await before.stop();
    }

    const after = await open();
    try {
      await after.client.signal(workflowId, "add", { n: 2 }, { requestId: "restart-1" });
      await after.client.signal(workflowId, "add", { n: 3 }, { requestId: "restart-2" });
      await after.client.signal(workflowId, "add", { done: true }, { requestId: "restart-done" });
      expect(await after.client.result(workflowId, { timeoutMs: 60_000 })).toEqual({
        seen: [2, 3],
      });
      const history = await after.client.getHistory(workflowId);
      expect(requestIds(history)).toEqual(["restart-1", "restart-2", "restart-done"]);
      expectGapless(history);
    } finally {
      await after.stop();
    }
  });
}
