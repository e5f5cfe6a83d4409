/**
 * A step's reports through the real broker (no worker beside the decider's partition: every
 * report goes through weft.commands). A quick step sends one record, its result with its start
 * in a header, and history still records StepStarted before its result; a step that runs past
 * the worker's hold sends its started report while it runs, then its result.
 */
import { topics } from "../../core/config";
import { defineWorkflow } from "../../sdk";
import {
  COMMAND_TYPE_HEADER,
  commandCodec,
  headerText,
  STEP_STARTED_AT_HEADER,
} from "../../schemas/codec";
import { closeFixtures, echo, slow, steps } from "../fixtures/workflows";
import { isolatedConfig, waitFor } from "../support/env";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";
import { STARTED_REPORT_HOLD_MS } from "../../workers/held-start";

const quickThenSlow = defineWorkflow("quickThenSlow", async (ctx) => {
  await ctx.step(echo, { n: 1 });
  // Runs well past the worker's hold of its started report.
  await ctx.step(slow, { ms: STARTED_REPORT_HOLD_MS * 20 });
  return "done";
});

const config = isolatedConfig({ localDispatch: false });
let weft: TestWeft;

beforeAll(async () => {
  weft = await startTestWeft(config, { workflows: [quickThenSlow], steps });
});

afterAll(async () => {
  await weft.stop();
  await closeFixtures();
});

interface Report {
  type: string;
  stepSeq: number;
  startedAtHeader: string | undefined;
}

it("sends a quick step's start with its result, and a longer step's while it runs", async () => {
  const { workflowId } = await weft.client.start(quickThenSlow);
  expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toBe("done");

  const reports: Report[] = [];
  const consumer = kafkaFor(config).consumer({ groupId: `${config.topicPrefix}.reports-check` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.commands(config), fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const type = headerText(message.headers, COMMAND_TYPE_HEADER) ?? "";
      if (!type.startsWith("ReportStep")) return;
      const command = commandCodec.decode(message.value, message.headers);
      if (command.workflowId !== workflowId) return;
      const { stepSeq } = command.body as { stepSeq: number };
      reports.push({
        type,
        stepSeq,
        startedAtHeader: headerText(message.headers, STEP_STARTED_AT_HEADER),
      });
      await Promise.resolve();
    },
  });
  await waitFor(
    "both results",
    () => reports.filter((r) => r.type !== "ReportStepStarted").length >= 2,
  );
  await consumer.disconnect();

  const quick = reports.filter((r) => r.stepSeq === 1);
  expect(quick).toEqual([
    { type: "ReportStepCompleted", stepSeq: 1, startedAtHeader: expect.stringMatching(/^\d+$/) },
  ]);
  expect(reports.filter((r) => r.stepSeq === 2)).toEqual([
    { type: "ReportStepStarted", stepSeq: 2, startedAtHeader: undefined },
    { type: "ReportStepCompleted", stepSeq: 2, startedAtHeader: undefined },
  ]);

  // History as if the quick step had sent two reports: its start, with the worker's clock
  // from the header, then its result.
  const history = await weft.client.getHistory(workflowId);
  const stepEvents = history
    .map((e) => e.body)
    .filter((b) => b.type === "StepStarted" || b.type === "StepCompleted")
    .map((b) => [b.type, b.stepSeq]);
  expect(stepEvents).toEqual([
    ["StepStarted", 1],
    ["StepCompleted", 1],
    ["StepStarted", 2],
    ["StepCompleted", 2],
  ]);
  const started = history.find((e) => e.body.type === "StepStarted")!.body;
  const completed = history.find((e) => e.body.type === "StepCompleted")!.body;
  expect(started).toEqual({
    type: "StepStarted",
    stepSeq: 1,
    attempt: 1,
    workerId: (completed as { workerId: string }).workerId,
    startedAt: Number(quick[0]!.startedAtHeader),
  });
});
