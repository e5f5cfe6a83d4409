import type { ReadModelDb } from "./read-model-db";
import type { ProjectionChanges } from "./rows";
import { insertEvents } from "./tables/events";
import { insertRuns, restartRuns, updateRuns } from "./tables/runs";
import { insertSignals, updateSignals } from "./tables/signals";
import { insertAttempts, updateAttempts } from "./tables/step-attempts";
import { updateTimers, upsertTimers } from "./tables/timers";

/** Writes a batch's rows: one multi-row statement per table and kind of change. */
export async function writeChanges(db: ReadModelDb, changes: ProjectionChanges): Promise<void> {
  await insertRuns(db, changes.runInserts);
  await restartRuns(db, changes.runRestarts);
  await updateRuns(db, changes.runUpdates);
  await insertEvents(db, changes.events);
  await insertAttempts(db, changes.attemptInserts);
  await updateAttempts(db, changes.attemptUpdates);
  await upsertTimers(db, changes.timerUpserts);
  await updateTimers(db, changes.timerUpdates);
  await insertSignals(db, changes.signalInserts);
  await updateSignals(db, changes.signalUpdates);
}
