/**
 * Cancelling part of a run (`ctx.cancellable`), the same on every transport: a step that
 * honours its AbortSignal is stopped on its worker when a signal cancels its scope, and the
 * code goes on; a month's sleep in a scope is cancelled and never fires; a run that waits
 * across a restart of its Weft cancels its sleep once back. Each cancel is in history once,
 * and every history replays through the code (checkReplay).
 */
import type { HistoryEvent } from "../../schemas/types";
import type { WeftClient } from "../../sdk/client";
import { checkReplay } from "../../workflow/replay-check";
import { napOrWake, stopWork, workAbortedWith } from "../fixtures/scopes";
import { waitFor } from "../support/env";
import { count, eventsOf, expectGapless, types } from "../support/history";

/** A Weft hosting the scope workflows and steps on the transport under test. */
export type OpenWeft = () => Promise<{ client: WeftClient; stop(): Promise<void> }>;

async function waitForEvent(
  client: WeftClient,
  workflowId: string,
  found: (events: HistoryEvent[]) => boolean,
  what: string,
): Promise<HistoryEvent[]> {
  return waitFor(`${what} in the history of ${workflowId}`, async () => {
    const events = await client.getHistory(workflowId);
    return found(events) ? events : undefined;
  });
}

/** The nap was cancelled once, never fired, and the history replays. */
async function expectNapCancelled(history: HistoryEvent[]): Promise<void> {
  expect(count(history, "TimerStarted")).toBe(1);
  expect(eventsOf(history, "TimerCancelled").map((e) => e.body)).toEqual([
    { type: "TimerCancelled", timerSeq: 1, reason: "woken" },
  ]);
  expect(types(history)).not.toContain("TimerFired");
  // The sleep was due in 30 days; the run closed as soon as the signal came.
  const started = history[0]!.at;
  const closed = history[history.length - 1]!.at;
  expect(eventsOf(history, "TimerStarted")[0]!.body.dueAt - closed).toBeGreaterThan(
    29 * 86_400_000,
  );
  expect(closed - started).toBeLessThan(60_000);
  expectGapless(history);
  const replay = await checkReplay(napOrWake, history);
  expect(replay.divergence).toBeNull();
  expect(replay.ok).toBe(true);
}

export function scopesScenario(name: string, open: OpenWeft): void {
  it("stops a running step through its scope when a signal comes; the code catches it and completes", async () => {
    const weft = await open();
    try {
      const key = `${name}-stop`;
      const { workflowId } = await weft.client.start(stopWork, { input: { key } });
      await waitForEvent(
        weft.client,
        workflowId,
        (events) => types(events).includes("StepStarted"),
        "the step's start",
      );
      await weft.client.signal(workflowId, "stop", { why: "the customer called" });
      await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        cancelled: true,
        after: { code: "SCOPE_CANCELLED", reason: "the customer called" },
      });
      // The worker aborted the attempt's signal; its failure, reported after, is only recorded.
      expect(workAbortedWith(key)).toBe("STEP_CANCELLED");
      const history = await waitForEvent(
        weft.client,
        workflowId,
        (events) => types(events).includes("StepResultIgnored"),
        "the aborted attempt's report",
      );
      expect(eventsOf(history, "StepCancelled").map((e) => e.body)).toEqual([
        { type: "StepCancelled", stepSeq: 1, attempt: 1, reason: "the customer called" },
      ]);
      expect(eventsOf(history, "StepResultIgnored")[0]!.body).toMatchObject({
        stepSeq: 1,
        outcome: "failed",
        reason: "step 1 was cancelled with its scope",
      });
      // Nothing of step 1 is applied after its cancel: no failure, no retry.
      expect(eventsOf(history, "StepFailed")).toEqual([]);
      expect(types(history)).not.toContain("StepRetryScheduled");
      expect(types(history)).toContain("WorkflowCompleted");
      const replay = await checkReplay(stopWork, history);
      expect(replay.divergence).toBeNull();
      expect(replay.ok).toBe(true);
    } finally {
      await weft.stop();
    }
  });

  it("cancels a month's sleep in a scope: it never fires and the run completes at once", async () => {
    const weft = await open();
    try {
      const { workflowId } = await weft.client.start(napOrWake, {
        workflowId: `${name}-nap`,
      });
      await waitForEvent(
        weft.client,
        workflowId,
        (events) => types(events).includes("SignalWaitStarted"),
        "the wait for wake",
      );
      await weft.client.signal(workflowId, "wake", {});
      await expect(weft.client.result(workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        woken: true,
      });
      await expectNapCancelled(await weft.client.getHistory(workflowId));
    } finally {
      await weft.stop();
    }
  });

  it("cancels the sleep of a run that waited across a restart, replaying it the same way", async () => {
    const first = await open();
    let workflowId: string;
    try {
      ({ workflowId } = await first.client.start(napOrWake, { workflowId: `${name}-restart` }));
      await waitForEvent(
        first.client,
        workflowId,
        (events) => types(events).includes("SignalWaitStarted"),
        "the wait for wake",
      );
    } finally {
      await first.stop();
    }
    // A new decider restores the run and, when the signal comes, rebuilds its code by replay.
    const second = await open();
    try {
      await second.client.signal(workflowId, "wake", {});
      await expect(second.client.result(workflowId, { timeoutMs: 30_000 })).resolves.toEqual({
        woken: true,
      });
      await expectNapCancelled(await second.client.getHistory(workflowId));
    } finally {
      await second.stop();
    }
  });
}
