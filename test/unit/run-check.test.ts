/**
 * The judge of producers/run-check.ts on a view the test moves by hand: every answer, and the
 * one it must never give (NOT_FOUND while the view is behind a start that was acknowledged).
 */
import { RunClosedError, RunNotFoundError, WeftError } from "../../core/errors";
import {
  checkRun,
  historyRunView,
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
  partitionFor: () => 3,
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
    // A cancel the code caught: its request ID is on the request, the run completed.
    const caught = [
      started,
      event({ type: "WorkflowCancelRequested", reason: null, requestId: "c-2" }),
      event({ type: "WorkflowCompleted", result: "1" }),
    ];
    expect(recordedInHistory(caught, cancelWorkflowCommand("r", null, "c-2"))).toBe(true);
    expect(recordedInHistory(caught, cancelWorkflowCommand("r", null, "c-3"))).toBe(false);
  });
});

describe("the history view's applied offset", () => {
  /** A history partition whose written end and reader position the test sets. */
  function historyOf() {
    const state = { committed: 0n, written: 0n, read: 0n, endFails: false };
    const view = historyRunView({
      events: () => Promise.resolve([]),
      commands: { committedOffset: () => Promise.resolve(state.committed) },
      deciderGroup: "deciders",
      history: {
        readTo: () => state.read,
        writtenEnd: () =>
          state.endFails
            ? Promise.reject(new Error("leader moved"))
            : Promise.resolve(state.written),
      },
    });
    return { state, applied: () => view.appliedOffset(0) };
  }

  it("counts the deciders' offset only once the history written by then is read", async () => {
    const { state, applied } = historyOf();
    // The deciders committed past the start; its history is written, its marker not yet read.
    state.committed = 10n;
    state.written = 5n;
    state.read = 3n;
    expect(await applied()).toBe(0n);
    state.read = 5n;
    expect(await applied()).toBe(10n);
  });

  it("confirms earlier looks while later transactions keep the reader short of the end", async () => {
    const { state, applied } = historyOf();
    state.committed = 4n;
    state.written = 5n;
    expect(await applied()).toBe(0n);
    // More commands applied, more history written; the reader gets past the first look's end.
    state.committed = 9n;
    state.written = 12n;
    state.read = 6n;
    expect(await applied()).toBe(4n);
    state.committed = 11n;
    state.written = 20n;
    state.read = 12n;
    expect(await applied()).toBe(9n);
    state.read = 20n;
    expect(await applied()).toBe(11n);
  });

  it("an end it cannot read confirms nothing new, and never moves back", async () => {
    const { state, applied } = historyOf();
    state.committed = 4n;
    state.written = 4n;
    state.read = 4n;
    expect(await applied()).toBe(4n);
    state.committed = 8n;
    state.endFails = true;
    expect(await applied()).toBe(4n);
    state.endFails = false;
    state.written = 9n;
    expect(await applied()).toBe(4n);
    state.read = 9n;
    expect(await applied()).toBe(8n);
  });

  it("without a history position (one-step commits), the deciders' offset as it is", async () => {
    const view = historyRunView({
      events: () => Promise.resolve([]),
      commands: { committedOffset: () => Promise.resolve(7n) },
      deciderGroup: "deciders",
    });
    expect(await view.appliedOffset(0)).toBe(7n);
  });
});
