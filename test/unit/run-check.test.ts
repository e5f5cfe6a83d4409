/**
 * The judge of producers/run-check.ts on a view the test moves by hand: every answer, and the
 * one it must never give (NOT_FOUND while the view is behind a start that was acknowledged).
 */
import { RunClosedError, RunNotFoundError, WeftError } from "../../core/errors";
import {
  checkRun,
  recordedInHistory,
  runOfHistory,
  sendToRun,
  type RunView,
  type SeenRun,
} from "../../producers/run-check";
import { cancelWorkflowCommand, signalWorkflowCommand } from "../../producers/workflow-commands";
import type { EventBody, HistoryEvent } from "../../schemas/types";

/** A view whose rows and position the test sets; `find(…, true)` is counted. */
class FakeView implements RunView {
  readonly rows = new Map<string, SeenRun>();
  readonly recordedIds = new Set<string>();
  applied = 0n;
  freshReads = 0;
  positionReads = 0;
  /** Called at every read of the position: lets a test move the view meanwhile. */
  onPosition: (reads: number) => void = () => undefined;

  find(workflowId: string, fresh: boolean) {
    if (fresh) this.freshReads++;
    return Promise.resolve(this.rows.get(workflowId));
  }
  recorded(command: { body: { requestId: string } }) {
    return Promise.resolve(this.recordedIds.has(command.body.requestId));
  }
  appliedOffset() {
    this.positionReads++;
    this.onPosition(this.positionReads);
    return Promise.resolve(this.applied);
  }
}

const END = 10n;
const commands = {
  sent: [] as unknown[],
  partitionEnd: () => Promise.resolve({ partition: 3, end: END }),
  send(command: unknown) {
    this.sent.push(command);
    return Promise.resolve();
  },
};
const fast = { waitMs: 1000, poll: { initialMs: 1, maxMs: 1, jitter: 0 } };

beforeEach(() => (commands.sent = []));

it("an open run takes the command at once, without looking at the view's position", async () => {
  const view = new FakeView();
  for (const status of ["pending", "running", "blocked"]) {
    view.rows.set("r", { status, closed: false });
    const check = await sendToRun(view, commands, signalWorkflowCommand("r", "go"), fast);
    expect(check).toEqual({ kind: "open", status });
  }
  expect(view.positionReads).toBe(0);
  expect(commands.sent).toHaveLength(3);
});

it("a closed run: RUN_CLOSED, and nothing is sent", async () => {
  const view = new FakeView();
  view.rows.set("r", { status: "completed", closed: true });
  const err = await sendToRun(view, commands, cancelWorkflowCommand("r"), fast).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RunClosedError);
  expect(err).toMatchObject({
    code: "RUN_CLOSED",
    details: { workflowId: "r", status: "completed" },
  });
  expect((err as Error).message).toMatch(/is completed/);
  expect(commands.sent).toEqual([]);
});

it("a closed run that recorded this very request: accepted, nothing sent again", async () => {
  const view = new FakeView();
  view.rows.set("r", { status: "cancelled", closed: true });
  view.recordedIds.add("cancel-1");
  const check = await sendToRun(view, commands, cancelWorkflowCommand("r", null, "cancel-1"), fast);
  expect(check).toEqual({ kind: "recorded", status: "cancelled" });
  expect(commands.sent).toEqual([]);
});

it("no trace of the run in a view that has applied the partition's end: NOT_FOUND", async () => {
  const view = new FakeView();
  view.applied = END;
  const err = await sendToRun(view, commands, signalWorkflowCommand("nope", "go"), fast).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RunNotFoundError);
  expect(WeftError.is(err) && err.code).toBe("NOT_FOUND");
  expect(view.freshReads).toBe(1);
  expect(commands.sent).toEqual([]);
});

it("a view behind the partition's end waits for it, then finds the run just started", async () => {
  const view = new FakeView();
  view.applied = 4n;
  // The projector (or decider) gets there on the third look, with the run's start.
  view.onPosition = (reads) => {
    if (reads === 3) {
      view.applied = END;
      view.rows.set("new", { status: "pending", closed: false });
    }
  };
  const check = await sendToRun(view, commands, signalWorkflowCommand("new", "go"), fast);
  expect(check).toEqual({ kind: "open", status: "pending" });
  expect(view.positionReads).toBe(3);
  expect(commands.sent).toHaveLength(1);
});

it("a view still behind after the bound: sent unconfirmed, never NOT_FOUND", async () => {
  const view = new FakeView();
  view.applied = 4n;
  const check = await sendToRun(view, commands, signalWorkflowCommand("new", "go"), {
    ...fast,
    waitMs: 30,
  });
  expect(check).toEqual({ kind: "unconfirmed", partition: 3, applied: 4n, end: END });
  expect(view.freshReads).toBe(0);
  expect(commands.sent).toHaveLength(1);
});

it("checkRun sends nothing itself", async () => {
  const view = new FakeView();
  view.rows.set("r", { status: "running", closed: false });
  await checkRun(view, commands, signalWorkflowCommand("r", "go"), fast);
  expect(commands.sent).toEqual([]);
});

describe("a run as its history shows it", () => {
  let seq = 0;
  const event = (body: EventBody): HistoryEvent => ({ workflowId: "r", seq: ++seq, at: 0, body });
  const started = event({
    type: "WorkflowStarted",
    workflowType: "t",
    input: "null",
    idempotencyKey: null,
    requestId: "start",
  });

  it("open until its closing event; a blocked run is open", () => {
    expect(runOfHistory([])).toBeUndefined();
    expect(runOfHistory([started])).toEqual({ status: "running", closed: false });
    const blocked = event({ type: "WorkflowBlocked", code: "X", reason: "y" });
    expect(runOfHistory([started, blocked])).toEqual({ status: "blocked", closed: false });
    const completed = event({ type: "WorkflowCompleted", result: "1" });
    expect(runOfHistory([started, completed])).toEqual({ status: "completed", closed: true });
    const failed = event({
      type: "WorkflowFailed",
      error: { name: "Error", message: "m", code: null, stack: null, terminal: false },
    });
    expect(runOfHistory([started, failed])).toEqual({ status: "failed", closed: true });
  });

  it("knows the signals and the cancel it recorded by request ID", () => {
    const signal = event({
      type: "SignalReceived",
      signalName: "go",
      payload: "null",
      requestId: "s-1",
    });
    const cancelled = event({ type: "WorkflowCancelled", reason: null, requestId: "c-1" });
    const history = [started, signal, cancelled];
    expect(runOfHistory(history)).toEqual({ status: "cancelled", closed: true });
    expect(recordedInHistory(history, signalWorkflowCommand("r", "go", null, "s-1"))).toBe(true);
    expect(recordedInHistory(history, signalWorkflowCommand("r", "go", null, "s-2"))).toBe(false);
    expect(recordedInHistory(history, cancelWorkflowCommand("r", null, "c-1"))).toBe(true);
    expect(recordedInHistory(history, cancelWorkflowCommand("r", null, "s-1"))).toBe(false);
  });
});
