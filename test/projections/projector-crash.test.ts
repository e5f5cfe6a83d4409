/**
 * Invariants 8 and 9 for the projector: kill -9 it while it projects a stream of runs, or move
 * partitions between projectors mid-stream, and the read models still hold every event exactly
 * once: the same rows a from-scratch replay gives.
 */
import { isDeepStrictEqual } from "node:util";
import type { Pool } from "pg";
import type { WeftConfig } from "../../core/config";
import { createPool } from "../../projections/database";
import { Projector } from "../../projections/projector";
import { replayProjections } from "../../projections/replay";
import { ReadModelDb } from "../../projections/read-model-db";
import { closeFixtures, retryFixed, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import {
  createTestSchema,
  countEvents,
  readModelChecksums,
  type TestSchema,
} from "../support/postgres";
import type { RoleProcess } from "../support/processes";
import { spawnProjector } from "../support/projector-process";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

let db: TestSchema;
let config: WeftConfig;
let weft: TestWeft;
let pool: Pool;
const children: RoleProcess[] = [];
/** Every run started so far, across tests. */
const ids: string[] = [];

beforeAll(async () => {
  db = await createTestSchema();
  // Processes beat on the registrations topic; a beat between the snapshot and the replay would
  // give the replay an input the snapshot never saw. One beat an hour keeps the input fixed.
  config = isolatedConfig({ databaseUrl: db.databaseUrl, registrationIntervalMs: 3_600_000 });
  weft = await startTestWeft(config, { workflows: [threeSteps, retryFixed], steps });
  pool = createPool(config, testLogger(config));
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill9()));
  await weft?.stop();
  await pool?.end();
  await closeFixtures();
  await db?.drop();
});

function inProcessProjector(): Projector {
  return new Projector({
    config,
    kafka: kafkaFor(config),
    db: ReadModelDb.postgres(pool),
    logger: testLogger(config),
  });
}

/** A steady stream of runs for about three seconds. */
async function streamOfRuns(prefix: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const started = await Promise.all([
      weft.client.start(threeSteps, { input: { n: i }, workflowId: `${prefix}-chain-${i}` }),
      ...(i % 10 === 0
        ? [weft.client.start(retryFixed, { workflowId: `${prefix}-retry-${i}` })]
        : []),
    ]);
    ids.push(...started.map((s) => s.workflowId));
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for every run to finish and be projected; checks each event is there exactly once. */
async function expectEveryEventOnce(): Promise<number> {
  await Promise.all(ids.map((id) => weft.client.result(id, { timeoutMs: 30_000 })));
  let expected = 0;
  const lengths = new Map<string, number>();
  for (const id of ids) {
    const length = (await weft.client.getHistory(id)).length;
    lengths.set(id, length);
    expected += length;
  }
  await waitFor(
    "the projector to catch up",
    async () => (await countEvents(pool)) >= expected,
    30_000,
  );
  const { rows } = await pool.query<{
    workflow_id: string;
    events: number;
    seqs: number;
    last_seq: number;
  }>(
    `SELECT e.workflow_id, count(*)::int AS events, count(DISTINCT e.seq)::int AS seqs, r.last_seq
       FROM weft_events e JOIN weft_runs r USING (workflow_id)
      GROUP BY e.workflow_id, r.last_seq`,
  );
  expect(rows).toHaveLength(ids.length);
  for (const row of rows) {
    const length = lengths.get(row.workflow_id);
    expect([row.workflow_id, row.events, row.seqs, row.last_seq]).toEqual([
      row.workflow_id,
      length,
      length,
      length,
    ]);
  }
  return expected;
}

/** Empties the read models and rebuilds them with a new projector: the tables must not change. */
async function expectSameAsReplay(): Promise<void> {
  const before = await readModelChecksums(pool);
  await replayProjections(config, { pool, logger: testLogger(config) });
  const fresh = inProcessProjector();
  await fresh.start();
  try {
    await waitFor(
      "the replay",
      async () => isDeepStrictEqual(await readModelChecksums(pool), before),
      30_000,
    ).catch(async (err: unknown) => {
      // Name the tables that differ, not just the timeout.
      expect(await readModelChecksums(pool)).toEqual(before);
      throw err;
    });
  } finally {
    await fresh.stop();
  }
  expect(await readModelChecksums(pool)).toEqual(before);
}

it("loses and duplicates nothing when the projector is killed mid-stream", async () => {
  const first = await spawnProjector(config);
  children.push(first);
  const load = streamOfRuns("kill");

  await waitFor("the projector to be busy", async () => (await countEvents(pool)) > 100);
  await first.kill9();
  const atKill = await countEvents(pool);
  // Events keep coming while no projector runs.
  await new Promise((r) => setTimeout(r, 1000));
  const second = await spawnProjector(config);
  children.push(second);
  await load;

  const expected = await expectEveryEventOnce();
  expect(atKill).toBeLessThan(expected);
  await second.stop();
  await expectSameAsReplay();
});

it("loses and duplicates nothing when partitions move between projectors mid-stream", async () => {
  const a = inProcessProjector();
  const b = inProcessProjector();
  await a.start();
  await b.start();
  const start = await countEvents(pool);
  const load = streamOfRuns("rebalance");
  await waitFor("both projectors to own partitions", () =>
    a.assignedPartitions.length > 0 && b.assignedPartitions.length > 0 ? true : undefined,
  );
  await waitFor("projecting", async () => (await countEvents(pool)) > start + 100);
  // One leaves and a third joins while the stream goes on: two rebalances.
  await a.stop();
  const c = inProcessProjector();
  await c.start();
  await load;
  try {
    await expectEveryEventOnce();
  } finally {
    await Promise.all([b.stop(), c.stop()]);
  }
  await expectSameAsReplay();
});
