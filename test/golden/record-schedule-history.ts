/**
 * Records the golden history of a schedule (test/golden/histories/schedule-deleted.json) in the
 * test kit, on virtual time: a cron schedule under `skip` that starts runs, skips a tick while
 * one is open, is paused, resumed, updated and deleted. Schedules run for months, so every
 * engine change must still replay their histories. Run it only to record the file again:
 *
 *   npx tsx test/golden/record-schedule-history.ts
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestEnvironment } from "../../sdk/testing";
import { historyFileText } from "../../testing/history-file";
import { recordTick, scheduledJob } from "../fixtures/scheduled";

const MIN = 60_000;

async function main(): Promise<void> {
  const env = await createTestEnvironment({
    workflows: [scheduledJob],
    steps: [recordTick],
    schedules: true,
    startTime: Date.parse("2026-03-01T00:00:00.000Z"),
  });
  try {
    await env.schedules.create({
      name: "golden",
      spec: { cron: "*/5 * * * *" },
      workflowType: "scheduledJob",
      input: { holdMs: 7 * MIN },
      overlap: "skip",
    });
    await env.skipTime(21 * MIN);
    await env.schedules.pause("golden");
    await env.skipTime(10 * MIN);
    await env.schedules.resume("golden");
    await env.schedules.update("golden", { spec: { everyMs: 10 * MIN }, overlap: "allow" });
    await env.skipTime(25 * MIN);
    await env.schedules.delete("golden");
    await env.result("schedule:golden");
    const history = await env.history("schedule:golden");
    writeFileSync(join(__dirname, "histories", "schedule-deleted.json"), historyFileText(history));
    process.stdout.write(`recorded ${history.length} events\n`);
  } finally {
    await env.close();
  }
}

void main();
