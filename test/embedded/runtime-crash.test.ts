/**
 * Embedded mode survives `kill -9`: a child process running startEmbedded starts a run that
 * waits on a timer and one that waits for a signal, is killed with SIGKILL while both wait, and
 * is started again on the same directory (where it sends the signal). Both runs complete; the
 * histories (read from the log afterwards) hold one TimerFired, after the deadline, and one
 * SignalReceived, with gapless sequence numbers.
 *
 * The first step of the sleeping run had reported, but its task offset may not have been
 * committed when the process died: its done-marker (kept on disk in embedded mode) stops it
 * running again, so no StepResultIgnored either.
 */
import { topics } from "../../core/config";
import type { HistoryEvent } from "../../schemas/types";
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

async function historiesOf(ids: string[]): Promise<Map<string, HistoryEvent[]>> {
  const kafka = await openLog(dir);
  const history = new HistoryTail(kafka, topics.history(config), testLogger(config));
  try {
    await history.catchUp();
    return new Map(ids.map((id) => [id, [...history.events(id)]]));
  } finally {
    await history.close();
    await kafka.close();
  }
}

it("resumes a pending timer and a pending signal wait after kill -9", async () => {
  const sleeping = `sleepy-${Date.now()}`;
  const waiting = `approval-${Date.now()}`;
  const waitMs = 2000;
  const first = await spawnEmbedded(config, dir, {
    WEFT_START: JSON.stringify([
      { type: "sleepy", workflowId: sleeping, input: { ms: waitMs } },
      { type: "approval", workflowId: waiting, input: { timeoutMs: 120_000 } },
    ]),
  });
  children.push(first);
  await waitFor(
    "both waits to start",
    () =>
      first.output().includes(`${sleeping} 5 TimerStarted\n`) &&
      first.output().includes(`${waiting} 2 SignalWaitStarted\n`),
    30_000,
  );
  await first.kill9();
  expect(first.output()).not.toContain("TimerFired");

  const second = await spawnEmbedded(config, dir, {
    WEFT_WATCH: [sleeping, waiting].join(","),
    WEFT_SIGNAL: JSON.stringify([
      { workflowId: waiting, name: "approve", payload: { approvedBy: "after-restart" } },
    ]),
  });
  children.push(second);
  expect(second.pid).not.toBe(first.pid);
  await waitFor(
    "both runs to complete",
    () =>
      second.output().includes(`${sleeping} 10 WorkflowCompleted\n`) &&
      /approval-\d+ \d+ WorkflowCompleted\n/.test(second.output()),
    30_000,
  );
  await second.stop();

  // The directory is free again: read the histories from the log itself.
  const histories = await historiesOf([sleeping, waiting]);
  const slept = histories.get(sleeping)!;
  expect(types(slept)).toEqual([
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
  expect(count(slept, "TimerFired")).toBe(1);
  expectGapless(slept);
  expectEachStepCompletedOnce(slept);
  const [started] = eventsOf(slept, "TimerStarted");
  const [fired] = eventsOf(slept, "TimerFired");
  expect(fired!.at - started!.at).toBeGreaterThanOrEqual(waitMs);

  const approved = histories.get(waiting)!;
  expect(types(approved)).toEqual([
    "WorkflowStarted",
    "SignalWaitStarted",
    "SignalReceived",
    "WorkflowCompleted",
  ]);
  expectGapless(approved);
  const completed = eventsOf(approved, "WorkflowCompleted")[0]!;
  expect(JSON.parse(completed.body.result)).toEqual({ approved: true, by: "after-restart" });
});
