/**
 * Step logs end to end, one scenario for every transport: a step logs on attempt 1 and throws,
 * logs on attempt 2 and succeeds, and each attempt's lines read back through GraphQL beside that
 * attempt; a step logging 10,000 lines keeps the bound plus the dropped marker; a malformed record
 * on the step-logs topic goes to the DLQ and the projector carries on. Each test file gives the
 * harness (Kafka with PostgreSQL, the embedded log with SQLite).
 */
import { topics, type WeftConfig } from "../../core/config";
import type { Projector } from "../../projections/projector";
import { defineStep, defineWorkflow } from "../../sdk";
import type { WeftClient } from "../../sdk/client";
import type { KafkaPort } from "../../transport/port";
import { STEP_LOG_LIMITS } from "../../workers/step-log";
import { waitFor } from "../support/env";

/** Logs on every attempt; fails the first. */
export const logsThenRetries = defineStep("logsThenRetries", (input: { order: string }, step) => {
  step.log.info("charging the card", { order: input.order, attempt: step.attempt });
  if (step.attempt === 1) {
    step.log.error("the card network timed out", { retryable: true });
    throw new Error("card network timeout");
  }
  step.log.warn("charged on a later attempt");
  return { charged: true };
});

/** Logs far past the bound. */
export const logsALot = defineStep("logsALot", (_input: unknown, step) => {
  for (let i = 0; i < 10_000; i++) step.log.debug(`line ${i}`, { i });
  return { lines: 10_000 };
});

export const stepLogsFlow = defineWorkflow(
  "stepLogsFlow",
  async (ctx, input: { order: string }) => {
    const charged = await ctx.step(logsThenRetries, input, {
      retry: { maximumAttempts: 3, backoff: "fixed", initialIntervalMs: 50 },
    });
    const flood = await ctx.step(logsALot, {});
    return { ...charged, ...flood };
  },
);

export const stepLogsWorkflows = [stepLogsFlow];
export const stepLogsSteps = [logsThenRetries, logsALot];

export interface StepLogsHarness {
  config: WeftConfig;
  client: WeftClient;
  transport: KafkaPort;
  projector: Projector;
  /** The data of a GraphQL query; fails on errors. */
  gql<T>(query: string, variables: Record<string, unknown>): Promise<T>;
}

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
  at: string;
}
interface Attempt {
  stepSeq: number;
  attempt: number;
  stepName: string;
  status: string;
  logs: Line[];
  logsDropped: number;
}

const STEPS = `query ($id: String!) {
  workflow(id: $id) {
    status
    steps { stepSeq attempt stepName status logs { level message fields at } logsDropped }
  }
}`;

/** The completed run's attempts once every attempt that logged has its lines projected. */
async function attemptsWithLogs(
  harness: StepLogsHarness,
  workflowId: string,
  logged: number,
): Promise<Attempt[]> {
  return waitFor(`the step logs of ${workflowId}`, async () => {
    const data = await harness.gql<{ workflow: { status: string; steps: Attempt[] } | null }>(
      STEPS,
      { id: workflowId },
    );
    // The lines and the attempts come on different topics: wait for both.
    if (data.workflow?.status !== "COMPLETED") return undefined;
    const steps = data.workflow.steps;
    return steps.filter((s) => s.logs.length > 0).length >= logged ? steps : undefined;
  });
}

export function stepLogsScenarios(harness: () => StepLogsHarness): void {
  it("keeps each attempt's lines with that attempt, and the bound with a dropped marker", async () => {
    const h = harness();
    const { workflowId } = await h.client.start(stepLogsFlow.name, { input: { order: "A-1" } });
    expect(await h.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({
      charged: true,
      lines: 10_000,
    });
    const steps = await attemptsWithLogs(h, workflowId, 3);

    const [first, second, flood] = steps;
    expect(steps).toHaveLength(3);
    expect(first).toMatchObject({ stepName: "logsThenRetries", attempt: 1, status: "failed" });
    expect(first!.logs.map((l) => [l.level, l.message, l.fields])).toEqual([
      ["info", "charging the card", { order: "A-1", attempt: 1 }],
      ["error", "the card network timed out", { retryable: true }],
    ]);
    expect(second).toMatchObject({ attempt: 2, status: "completed", logsDropped: 0 });
    expect(second!.logs.map((l) => [l.level, l.message, l.fields])).toEqual([
      ["info", "charging the card", { order: "A-1", attempt: 2 }],
      ["warn", "charged on a later attempt", null],
    ]);
    for (const line of [...first!.logs, ...second!.logs])
      expect(Number.isNaN(Date.parse(line.at))).toBe(false);

    // The bound holds: the first lines, then one marker saying how many were dropped.
    expect(flood).toMatchObject({ stepName: "logsALot", status: "completed" });
    expect(flood!.logs).toHaveLength(STEP_LOG_LIMITS.lines + 1);
    expect(flood!.logs[0]).toMatchObject({ level: "debug", message: "line 0", fields: { i: 0 } });
    expect(flood!.logs[STEP_LOG_LIMITS.lines - 1]!.message).toBe(
      `line ${STEP_LOG_LIMITS.lines - 1}`,
    );
    const dropped = 10_000 - STEP_LOG_LIMITS.lines;
    expect(flood!.logsDropped).toBe(dropped);
    expect(flood!.logs.at(-1)).toMatchObject({
      level: "warn",
      message: expect.stringContaining(`${dropped} more lines dropped`) as string,
      fields: { droppedLines: dropped },
    });

    // Logs stay out of history.
    const history = await h.client.getHistory(workflowId);
    expect(JSON.stringify(history)).not.toContain("charging the card");
  });

  it("sends a malformed step-log record to the DLQ and projects the next one", async () => {
    const h = harness();
    const workflowId = `step-logs-after-poison-${Date.now()}`;
    // Keyed by the run's ID: the poison lies on the run's partition, before its records.
    const producer = h.transport.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: topics.stepLogs(h.config),
        messages: [{ key: workflowId, value: Buffer.from("not a step log") }],
      });
    } finally {
      await producer.disconnect();
    }
    await waitFor("the poison record in the DLQ", () => {
      const last = h.projector.health.snapshot().deadLetters.last;
      return last?.topic === topics.stepLogs(h.config) ? last : undefined;
    });

    await h.client.start(stepLogsFlow.name, { workflowId, input: { order: "B-2" } });
    await h.client.result(workflowId, { timeoutMs: 30_000 });
    const steps = await attemptsWithLogs(h, workflowId, 3);
    expect(steps[1]!.logs.map((l) => l.message)).toEqual([
      "charging the card",
      "charged on a later attempt",
    ]);
    expect(h.projector.health.snapshot().ready).toBe(true);
  });
}
