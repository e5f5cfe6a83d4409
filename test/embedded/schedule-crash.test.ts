/**
 * A schedule in embedded mode across kill -9: an embedded Weft process runs a schedule ticking
 * every second (catch-up window 60 s), is killed with SIGKILL mid-way, stays down for 4 s and is
 * started again on the same directory (its create is a duplicate of the running schedule and
 * changes nothing). Every tick from the first to the last has exactly one run; the ticks of the
 * downtime were started late, after the restart.
 */
import { loadConfig } from "../../core/config";
import { WeftClient } from "../../sdk/client";
import { tickWorkflowId, type ScheduleDefinition } from "../../sdk";
import { START_RUN_STEP, type StartRunInput } from "../../workflow/schedules/schedule-workflow";
import { compileSpec } from "../../workflow/schedules/spec";
import { waitFor } from "../support/env";
import { count, eventsOf, expectGapless } from "../support/history";
import { spawnEmbedded, type RoleProcess } from "../support/processes";
import { openLog, tempDir } from "./helpers";

const NAME = "embedded-every-second";
const SCHEDULE: ScheduleDefinition = {
  name: NAME,
  spec: { everyMs: 1000 },
  workflowType: "scheduledJob",
  overlap: "allow",
  catchupWindowMs: 60_000,
};
const DOWNTIME_MS = 4000;
const config = loadConfig({ topicPrefix: "weft" });

/** Start steps of the schedule the child has recorded as completed, from its printed events. */
const startsCompleted = (child: RoleProcess) =>
  child.output().match(new RegExp(`EVENT schedule:${NAME} \\d+ StepCompleted`, "g"))?.length ?? 0;

it("makes one run per tick across kill -9 and a restart, catching up the downtime", async () => {
  const { dir, cleanup } = tempDir();
  const env = {
    WEFT_SCHEDULES: "1",
    WEFT_SCHEDULE_CREATE: JSON.stringify([SCHEDULE]),
    WEFT_WATCH: `schedule:${NAME}`,
  };
  const children: RoleProcess[] = [];
  try {
    const first = await spawnEmbedded(config, dir, env);
    children.push(first);
    await waitFor("three ticks' runs started", () => startsCompleted(first) >= 3, 60_000);
    await first.kill9();
    const killedAt = Date.now();
    await waitFor("the downtime to pass", () => Date.now() - killedAt >= DOWNTIME_MS, 30_000, 100);

    const second = await spawnEmbedded(config, dir, env);
    children.push(second);
    // The catch-up (about 4 ticks) and three more after it.
    await waitFor("the catch-up and more ticks", () => startsCompleted(second) >= 8, 60_000);
    await second.kill9();

    const kafka = await openLog(dir);
    const client = await WeftClient.connect({ config, transport: kafka });
    try {
      const history = await client.getHistory(`schedule:${NAME}`);
      expectGapless(history);
      expect(count(history, "WorkflowStarted")).toBe(1);
      const started = eventsOf(history, "StepScheduled")
        .filter((e) => e.body.stepName === START_RUN_STEP && e.body.attempt === 1)
        .map((e) => (JSON.parse(e.body.input) as StartRunInput).workflowId);
      const tickOf = (id: string) => Date.parse(id.slice(NAME.length + 1));
      const clock = compileSpec(SCHEDULE.spec);
      const every: string[] = [];
      for (let t = tickOf(started[0]!); t <= tickOf(started.at(-1)!); t = clock.next(t)!)
        every.push(tickWorkflowId(NAME, t));
      // Each tick once, none missing: the downtime's ticks were caught up.
      expect(started).toEqual(every);
      let late = 0;
      for (const [i, id] of started.entries()) {
        const run = await client.getHistory(id);
        // Only the last ticks' starts may have been sent and not yet applied when the second
        // process was killed; every other run is there, begun once.
        if (run.length === 0 && i >= started.length - 2) continue;
        expect(count(run, "WorkflowStarted")).toBe(1);
        if (run[0]!.at - tickOf(id) > 2500) late++;
      }
      expect(late).toBeGreaterThanOrEqual(2);
    } finally {
      await client.close();
      await kafka.close();
    }
  } finally {
    await Promise.all(children.map((c) => c.kill9()));
    cleanup();
  }
}, 180_000);
