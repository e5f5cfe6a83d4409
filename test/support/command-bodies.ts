/** Command bodies the decision-core tests apply to a PartitionState. */
import type { CommandBody } from "../../schemas/types";

export const start = (workflowType: string, input: unknown = {}): CommandBody => ({
  type: "StartWorkflow",
  workflowType,
  input: JSON.stringify(input),
  idempotencyKey: null,
  requestId: "r",
});

export const signal = (signalName: string, payload: unknown = {}): CommandBody => ({
  type: "SignalWorkflow",
  signalName,
  payload: JSON.stringify(payload),
  requestId: `s-${signalName}`,
});

export const completed = (stepSeq: number, result: unknown, attempt = 1): CommandBody => ({
  type: "ReportStepCompleted",
  stepSeq,
  attempt,
  workerId: "w1",
  result: JSON.stringify(result),
});
