/**
 * Embedded mode survives `kill -9`: a child process running startEmbedded starts a run that
 * waits on a timer, is killed with SIGKILL while the timer is pending, and is started again on
 * the same directory. The run completes, and its history (read from the log afterwards) holds
 * one TimerFired, after the deadline, with gapless sequence numbers.
 *
 * The step before the timer had reported, but its task offset may not have been committed when
 * the process died: its done-marker (kept on disk in embedded mode) stops it running again.
 */
import { topics } from "../../core/config";
import { HistoryTail } from "../../transport/history-tail";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import {
  count,
  eventsOf,
  expectEachStepCompletedOnce,
  expectGapless,
  types,
} from "../support/history";
import { spawnEmbedded, type RoleProcess } from "../support/processes";
import { openLog, tempDir } from "./helpers";

const config = isolatedConfig();
const { dir, cleanup } = tempDir();
const children: RoleProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.child.exitCode === null) await child.kill9();
  cleanup();
});

it("resumes a pending timer after kill -9 and fires it exactly once", async () => {
  const workflowId = `sleepy-${Date.now()}`;
  const waitMs = 2000;
  const first = await spawnEmbedded(config, dir, {
    WEFT_START: JSON.stringify({ type: "sleepy", workflowId, input: { ms: waitMs } }),
  });
  children.push(first);
  await waitFor("the timer to start", () => first.output().includes(" TimerStarted\n"), 30_000);
  await first.kill9();
  expect(first.output()).not.toContain("TimerFired");

  const second = await spawnEmbedded(config, dir, { WEFT_WATCH: workflowId });
  children.push(second);
  expect(second.pid).not.toBe(first.pid);
  await waitFor(
    "the run to complete",
    () => second.output().includes(" WorkflowCompleted\n"),
    30_000,
  );
  await second.stop();

  // The directory is free again: read the run's history from the log itself.
  const kafka = await openLog(dir);
  const history = new HistoryTail(kafka, topics.history(config), testLogger(config));
  try {
    await history.catchUp();
    const events = [...history.events(workflowId)];
    expect(types(events)).toEqual([
      "WorkflowStarted",
      "StepScheduled",
      "StepStarted",
      "StepCompleted",
      "TimerStarted",
      "TimerFired",
      "StepScheduled",
      "StepStarted",
      "StepCompleted",
      "WorkflowCompleted",
    ]);
    expect(count(events, "TimerFired")).toBe(1);
    expectGapless(events);
    expectEachStepCompletedOnce(events);
    const [started] = eventsOf(events, "TimerStarted");
    const [fired] = eventsOf(events, "TimerFired");
    expect(fired!.at - started!.at).toBeGreaterThanOrEqual(waitMs);
  } finally {
    await history.close();
    await kafka.close();
  }
});
