/**
 * Run state, signal handlers and conditions in the test kit: ctx.setState read with env.stateOf
 * as the run goes, ctx.onSignal (buffered signals handed over on registration, a waitForSignal
 * taking precedence), ctx.condition with a durable timeout, signalWithStart, the state's size
 * limit, and replay of such histories (checkReplay).
 */
import { defineWorkflow, WorkflowFailedError, type HistoryEvent } from "../../sdk";
import { checkReplay, createTestEnvironment, type TestEnvironment } from "../../sdk/testing";
import {
  approvalCounter,
  bigState,
  lateHandler,
  runStateWorkflows,
  waitBeforeHandler,
  type ApprovalState,
} from "../fixtures/run-state";

const START = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

function types(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => e.body.type);
}

describe("run state, onSignal and condition in the test kit", () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await createTestEnvironment({ workflows: runStateWorkflows, startTime: START });
  });

  afterEach(async () => {
    await env.close();
  });

  it("counts approvals with a handler and a condition, the count readable as the run's state", async () => {
    const id = await env.start(approvalCounter, { needed: 3 });
    await env.idle();
    expect(await env.stateOf<ApprovalState>(id)).toEqual({
      approvals: 0,
      needed: 3,
      by: [],
      phase: "collecting",
    });
    await env.signal(id, "approve", { by: "ada" });
    await env.idle();
    expect(await env.stateOf<ApprovalState>(id)).toMatchObject({ approvals: 1, by: ["ada"] });
    await env.signal(id, "approve", { by: "bob" });
    await env.signal(id, "approve", { by: "cy" });
    expect(await env.result(id)).toEqual({
      approved: true,
      approvals: 3,
      by: ["ada", "bob", "cy"],
    });
    expect(await env.stateOf<ApprovalState>(id)).toEqual({
      approvals: 3,
      needed: 3,
      by: ["ada", "bob", "cy"],
      phase: "approved",
    });

    const history = await env.history(id);
    // One StateUpdated per decision that changed the state, before what that decision recorded.
    expect(types(history)).toEqual([
      "WorkflowStarted",
      "StateUpdated",
      "TimerStarted",
      "SignalReceived",
      "StateUpdated",
      "SignalReceived",
      "StateUpdated",
      "SignalReceived",
      "StateUpdated",
      "WorkflowCompleted",
    ]);
    // Replaying the history through the code is deterministic: the same calls, the same states.
    const report = await checkReplay(approvalCounter, history);
    expect(report).toMatchObject({ ok: true, divergence: null, events: history.length });
  });

  it("reports a divergence when the code now sets another state than history recorded", async () => {
    const id = await env.start(approvalCounter, { needed: 1 });
    await env.signal(id, "approve", { by: "ada" });
    await env.result(id);
    const history = await env.history(id);
    const changed = defineWorkflow("approvalCounter", async (ctx) => {
      ctx.setState({ other: true });
      await ctx.condition(() => false, { timeoutMs: 86_400_000 });
    });
    const report = await checkReplay(changed, history);
    expect(report.ok).toBe(false);
    expect(report.divergence).toMatchObject({ kind: "state", eventType: "StateUpdated" });
  });

  it("the condition's timeout is a durable timer: false when too few came in time", async () => {
    const id = await env.start(approvalCounter, { needed: 2, timeoutMs: HOUR });
    await env.signal(id, "approve", { by: "ada" });
    expect(await env.result(id)).toEqual({ approved: false, approvals: 1, by: ["ada"] });
    expect(env.now()).toBe(START + HOUR);
    expect(await env.stateOf<ApprovalState>(id)).toMatchObject({ phase: "expired" });
    expect((await checkReplay(approvalCounter, await env.history(id))).ok).toBe(true);
  });

  it("hands signals that came before the handler to it on registration, in order", async () => {
    const id = await env.start(lateHandler);
    await env.signal(id, "note", "one");
    await env.signal(id, "note", "two");
    await env.skipTime(HOUR);
    await env.signal(id, "note", "three");
    expect(await env.result(id)).toEqual(["one", "two", "three"]);
    expect((await checkReplay(lateHandler, await env.history(id))).ok).toBe(true);
  });

  it("an open waitForSignal takes the signal before the handler does", async () => {
    const id = await env.start(waitBeforeHandler);
    for (const n of [1, 2, 3]) await env.signal(id, "n", n);
    expect(await env.result(id)).toEqual({ waited: 1, handled: [2, 3] });
  });

  it("signalWithStart starts the run once and delivers the signal; again, it signals that run", async () => {
    const first = await env.signalWithStart(approvalCounter, {
      workflowId: "approvals-42",
      input: { needed: 2 },
      signal: "approve",
      payload: { by: "ada" },
    });
    await env.idle();
    expect(await env.stateOf<ApprovalState>("approvals-42")).toMatchObject({
      approvals: 1,
      by: ["ada"],
    });
    // A retry of the same request is recorded once.
    await env.signalWithStart(approvalCounter, {
      workflowId: "approvals-42",
      input: { needed: 2 },
      signal: "approve",
      payload: { by: "ada" },
      requestId: first.requestId,
    });
    await env.signalWithStart(approvalCounter, {
      workflowId: "approvals-42",
      input: { needed: 99 },
      signal: "approve",
      payload: { by: "bob" },
    });
    expect(await env.result("approvals-42")).toEqual({
      approved: true,
      approvals: 2,
      by: ["ada", "bob"],
    });
    const history = await env.history("approvals-42");
    expect(types(history).filter((t) => t === "WorkflowStarted")).toHaveLength(1);
    expect(types(history).slice(0, 2)).toEqual(["WorkflowStarted", "SignalReceived"]);
    const signals = history.flatMap((e) => (e.body.type === "SignalReceived" ? [e.body] : []));
    expect(signals.map((s) => s.requestId)[0]).toBe(first.requestId);
    expect(signals).toHaveLength(2);
    expect((await checkReplay(approvalCounter, history)).ok).toBe(true);
  });

  it("fails the run with STATE_TOO_LARGE and records nothing of a state over the limit", async () => {
    const id = await env.start(bigState);
    const failure = await env.result(id).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).details).toMatchObject({
      errorCode: "STATE_TOO_LARGE",
      errorName: "StateTooLargeError",
    });
    expect(await env.stateOf(id)).toEqual({ size: "small" });
    const history = await env.history(id);
    expect(types(history).filter((t) => t === "StateUpdated")).toHaveLength(1);
  });
});
