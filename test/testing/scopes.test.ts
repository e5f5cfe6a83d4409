/**
 * Cancellation scopes in the test kit, in virtual time: an approval raced against a two-day
 * deadline, each in a scope, the loser cancelled. When the deadline wins, time skips to it and
 * the signal wait is cancelled; when the signal wins, the deadline is cancelled and virtual
 * time does not move towards it. Both histories replay.
 */
import { createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import { defineWorkflow } from "../../workflow/definitions";
import { checkReplay } from "../../workflow/replay-check";
import { eventsOf, types } from "../support/history";

const DAY = 86_400_000;

const approvalOrDeadline = defineWorkflow("approvalOrDeadline", async (ctx) => {
  const approval = ctx.cancellable(() => ctx.waitForSignal<{ by: string }>("approve"));
  const deadline = ctx.cancellable(() => ctx.sleep(2 * DAY));
  const first = await Promise.race([
    approval.result().then(() => "approved"),
    deadline.result().then(() => "expired"),
  ]);
  (first === "approved" ? deadline : approval).cancel(`${first} first`);
  return first;
});

describe("cancellation scopes in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({ workflows: [approvalOrDeadline], steps: [] });
  });

  afterEach(async () => {
    await env.close();
  });

  it("skips to the deadline and cancels the signal wait", async () => {
    const startedAt = env.now();
    const id = await env.start(approvalOrDeadline, {});
    await expect(env.result(id)).resolves.toBe("expired");
    expect(env.now() - startedAt).toBeGreaterThanOrEqual(2 * DAY);
    const history = await env.history(id);
    expect(eventsOf(history, "SignalWaitCancelled").map((e) => e.body)).toEqual([
      { type: "SignalWaitCancelled", waitSeq: 1, signalName: "approve", reason: "expired first" },
    ]);
    expect((await checkReplay(approvalOrDeadline, history)).divergence).toBeNull();
  });

  it("cancels the deadline when the signal comes first; virtual time does not run to it", async () => {
    const startedAt = env.now();
    const id = await env.start(approvalOrDeadline, {});
    await env.idle();
    await env.signal(id, "approve", { by: "ada" });
    await expect(env.result(id)).resolves.toBe("approved");
    expect(env.now() - startedAt).toBeLessThan(DAY);
    const history = await env.history(id);
    expect(eventsOf(history, "TimerCancelled").map((e) => e.body)).toEqual([
      { type: "TimerCancelled", timerSeq: 2, reason: "approved first" },
    ]);
    expect(types(history)).not.toContain("TimerFired");
    // Nothing is left for the clock: a later skip fires nothing into the closed run.
    await env.skipTime(3 * DAY);
    expect(await env.history(id)).toHaveLength(history.length);
    expect((await checkReplay(approvalOrDeadline, history)).divergence).toBeNull();
  });
});
