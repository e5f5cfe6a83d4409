/** /metrics on a process running decider, worker and api: the counters move with a run. */
import { WeftClient } from "../../sdk/client";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { closeFixtures, retryFixed, steps, threeSteps, workflows } from "../fixtures/workflows";
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

/** The series of `name` whose labels include `labels` (in any order), with their values. */
function series(
  metrics: string,
  name: string,
  labels: Record<string, string> = {},
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of metrics.split("\n")) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) {
      out.push({ labels: found, value: Number(match[3]) });
    }
  }
  return out;
}

const total = (metrics: string, name: string, labels: Record<string, string> = {}) =>
  series(metrics, name, labels).reduce((sum, s) => sum + s.value, 0);

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
  expect(before).toContain("# TYPE weft_runs_started_total counter");
  expect(total(before, "weft_runs_started_total")).toBe(0);
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
  expect(total(after, "weft_runs_started_total", { type: threeSteps.name })).toBe(1);
  expect(
    total(after, "weft_runs_closed_total", { type: threeSteps.name, status: "completed" }),
  ).toBe(1);
  expect(sample(after, "weft_tasks_dispatched_total")).toBe(3);
  expect(sample(after, "weft_history_events_total")).toBe(11);
  expect(
    sample(after, 'weft_api_request_duration_seconds_count{route="/graphql",status="200"}'),
  ).toBeGreaterThanOrEqual(1);

  // The worker's histograms: three attempts, each timed from its task's write and its start.
  expect(total(after, "weft_step_schedule_to_start_seconds_count", { queue: "default" })).toBe(3);
  expect(
    total(after, "weft_step_start_to_close_seconds_count", {
      queue: "default",
      outcome: "completed",
    }),
  ).toBe(3);
  expect(total(after, "weft_step_attempts_total", { outcome: "completed" })).toBe(3);
  expect(sample(after, "weft_dlq_records_total")).toBe(0);

  // Consumer lag, read from Kafka on scrape: every partition of the deciders' group on the
  // commands topic, and the workers' group of the default queue.
  const deciders = series(after, "weft_consumer_lag", {
    group: `${config.topicPrefix}.deciders`,
    topic: `${config.topicPrefix}.commands`,
  });
  expect(deciders.map((s) => s.labels.partition).sort()).toEqual(["0", "1", "2", "3"]);
  for (const s of deciders) expect(s.value).toBeGreaterThanOrEqual(0);
  expect(
    series(after, "weft_consumer_lag", { group: `${config.topicPrefix}.workers.default` }),
  ).toHaveLength(4);

  // Retries, by workflow type and step: flaky fails twice, then completes.
  const retried = await client.start(retryFixed);
  await client.result(retried.workflowId, { timeoutMs: 30_000 });
  const later = await scrape();
  expect(total(later, "weft_step_retries_total", { type: retryFixed.name, step: "flaky" })).toBe(2);
  expect(total(later, "weft_step_attempts_total", { step: "flaky", outcome: "failed" })).toBe(2);
  expect(total(later, "weft_step_attempts_total", { step: "flaky", outcome: "completed" })).toBe(1);

  // GraphQL errors, by their code: two refused workflow IDs, one query that is not GraphQL.
  const ask = (query: string) =>
    fetch(`${address}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
  expect(total(later, "weft_api_errors_total")).toBe(0);
  await ask(`{ workflow(id: "no spaces allowed") { id } }`);
  await ask(`{ workflow(id: "") { id } }`);
  await ask(`{ noSuchField }`);
  const errors = await scrape();
  expect(total(errors, "weft_api_errors_total", { code: "INVALID_WORKFLOW_ID" })).toBe(2);
  expect(total(errors, "weft_api_errors_total", { code: "GRAPHQL_VALIDATION_FAILED" })).toBe(1);
  expect(total(errors, "weft_api_errors_total")).toBe(3);

  // Ready: Kafka, PostgreSQL, Redis reachable and the schema current.
  const ready = await fetch(`${address}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({
    ready: true,
    checks: {
      kafka: { ok: true },
      postgres: { ok: true },
      redis: { ok: true },
      migrations: { ok: true },
    },
  });
});

it("serves /metrics on WEFT_METRICS_PORT in a process without the api role", async () => {
  const config = isolatedConfig({ databaseUrl: db.databaseUrl, metricsPort: 0 });
  const decider = await startRuntime({
    config,
    logger: testLogger(config),
    roles: ["decider"],
    workflows,
    steps,
  });
  try {
    const address = decider.metricsAddress!;
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${address}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(sample(text, "weft_decider_open_runs")).toBe(0);
    expect(text).toContain("process_cpu_seconds_total");
    expect((await fetch(`${address}/other`)).status).toBe(404);
  } finally {
    await decider.stop();
  }
});
