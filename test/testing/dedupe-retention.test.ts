/**
 * Start deduplication's retention (WEFT_DEDUPE_RETENTION_MS, 7 days by default) end to end, in
 * the test kit's virtual time: a closed run's ID is a duplicate within it, starts a new run
 * after it, and that run's history carries on after the first's.
 */
import { loadConfig } from "../../core/config";
import { ConfigError } from "../../core/errors";
import { defineStep, defineWorkflow } from "../../sdk";
import { createTestEnvironment } from "../../sdk/testing";

const DAY = 24 * 3_600_000;

const greet = defineStep("greet", (input: { name: string }) => `hello ${input.name}`);
const welcome = defineWorkflow("welcome", async (ctx, input: { name: string }) =>
  ctx.step(greet, input),
);

test("a closed run's ID deduplicates starts for 7 days, then starts a new run", async () => {
  const env = await createTestEnvironment({
    workflows: [welcome],
    steps: [greet],
    startTime: Date.UTC(2030, 0, 1),
  });
  try {
    await env.start(welcome, { name: "ada" }, { workflowId: "signup-ada" });
    expect(await env.result("signup-ada")).toBe("hello ada");

    await env.skipTime(6 * DAY);
    await env.start(welcome, { name: "again" }, { workflowId: "signup-ada" });
    await env.idle();
    const within = await env.history("signup-ada");
    expect(within.filter((e) => e.body.type === "WorkflowStarted")).toHaveLength(1);

    await env.skipTime(2 * DAY);
    await env.start(welcome, { name: "grace" }, { workflowId: "signup-ada" });
    expect(await env.result("signup-ada")).toBe("hello grace");
    const after = await env.history("signup-ada");
    const starts = after.filter((e) => e.body.type === "WorkflowStarted");
    expect(starts).toHaveLength(2);
    // The second run's history continues after the first's: seq 1..n, n+1..
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => i + 1));
  } finally {
    await env.close();
  }
});

test("the retention is a setting: -1 keeps IDs for ever, anything else is checked", () => {
  expect(loadConfig({}, {}).dedupeRetentionMs).toBe(7 * DAY);
  expect(loadConfig({}, { WEFT_DEDUPE_RETENTION_MS: "-1" }).dedupeRetentionMs).toBe(-1);
  expect(loadConfig({}, { WEFT_DEDUPE_RETENTION_MS: String(30 * DAY) }).dedupeRetentionMs).toBe(
    30 * DAY,
  );
  for (const bad of ["0", "soon", "1.5", "-2"]) {
    expect(() => loadConfig({}, { WEFT_DEDUPE_RETENTION_MS: bad })).toThrow(ConfigError);
    expect(() => loadConfig({}, { WEFT_DEDUPE_RETENTION_MS: bad })).toThrow(
      /^dedupeRetentionMs \/ WEFT_DEDUPE_RETENTION_MS must be/,
    );
  }
  // A process running both roles hands work over in memory unless told not to.
  expect(loadConfig({}, {}).localDispatch).toBe(true);
  expect(loadConfig({}, { WEFT_LOCAL_DISPATCH: "0" }).localDispatch).toBe(false);
  expect(() => loadConfig({}, { WEFT_LOCAL_DISPATCH: "maybe" })).toThrow(ConfigError);
  expect(() => loadConfig({}, { WEFT_LOCAL_DISPATCH: "maybe" })).toThrow(/WEFT_LOCAL_DISPATCH/);
  // Deciders on Kafka commit with the pipelined producer unless told not to.
  expect(loadConfig({}, {}).pipelinedCommit).toBe(true);
  expect(loadConfig({}, { WEFT_PIPELINED_COMMIT: "0" }).pipelinedCommit).toBe(false);
  expect(() => loadConfig({}, { WEFT_PIPELINED_COMMIT: "yes please" })).toThrow(
    /INVALID_CONFIG|WEFT_PIPELINED_COMMIT/,
  );
  // Commands and step reports on Kafka go through Weft's own producer unless told not to.
  expect(loadConfig({}, {}).encodedProduce).toBe(true);
  expect(loadConfig({}, { WEFT_ENCODED_PRODUCE: "0" }).encodedProduce).toBe(false);
  expect(() => loadConfig({}, { WEFT_ENCODED_PRODUCE: "sometimes" })).toThrow(
    /WEFT_ENCODED_PRODUCE/,
  );
  // Its transaction protocol is the broker's best unless one is asked for.
  expect(loadConfig({}, {}).kafkaTransactionVersion).toBe("auto");
  expect(loadConfig({}, { WEFT_KAFKA_TRANSACTION_VERSION: "1" }).kafkaTransactionVersion).toBe(1);
  expect(loadConfig({ kafkaTransactionVersion: 2 }, {}).kafkaTransactionVersion).toBe(2);
  for (const bad of ["3", "0", "v2", "latest"]) {
    expect(() => loadConfig({}, { WEFT_KAFKA_TRANSACTION_VERSION: bad })).toThrow(ConfigError);
    expect(() => loadConfig({}, { WEFT_KAFKA_TRANSACTION_VERSION: bad })).toThrow(
      /^kafkaTransactionVersion \/ WEFT_KAFKA_TRANSACTION_VERSION must be auto, 1 or 2/,
    );
  }
});
