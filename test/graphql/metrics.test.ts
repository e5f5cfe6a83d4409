/** /metrics on a process running decider, worker and api: the counters move with a run. */
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { closeFixtures, steps, threeSteps, workflows } from "../fixtures/workflows";
import { isolatedConfig, testLogger } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

let db: TestSchema;
let runtime: Runtime | undefined;
let client: WeftClient | undefined;

beforeAll(async () => {
  db = await createTestSchema();
});

afterAll(async () => {
  await client?.close();
  await runtime?.stop();
  await db?.drop();
  await closeFixtures();
});

function sample(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

it("exposes Weft's counters and API latency, moving as runs complete", async () => {
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  runtime = await startRuntime({
    config,
    logger: testLogger(config),
    roles: ["decider", "worker", "api"],
    workflows,
    steps,
    api: { port: 0 },
  });
  await runtime.decider!.ready();
  const address = runtime.api!.address;
  const scrape = async () => (await fetch(`${address}/metrics`)).text();

  const before = await scrape();
  expect(sample(before, "weft_runs_started_total")).toBe(0);
  expect(before).toContain("process_cpu_seconds_total");

  client = await WeftClient.connect({ config, logger: testLogger(config) });
  const { workflowId } = await client.start(threeSteps, { input: { n: 0 } });
  await client.result(workflowId, { timeoutMs: 30_000 });
  await fetch(`${address}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ __typename }" }),
  });

  const after = await scrape();
  expect(sample(after, "weft_runs_started_total")).toBe(1);
  expect(sample(after, 'weft_runs_closed_total{status="completed"}')).toBe(1);
  expect(sample(after, "weft_tasks_dispatched_total")).toBe(3);
  expect(sample(after, "weft_history_events_total")).toBe(11);
  expect(
    sample(after, 'weft_api_request_duration_seconds_count{route="/graphql",status="200"}'),
  ).toBeGreaterThanOrEqual(1);
});
