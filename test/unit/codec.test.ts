import { UndecodableRecordError } from "../../core/errors";
import { commandCodec, historyCodec, taskCodec } from "../../schemas/codec";
import type { Command, HistoryEvent } from "../../schemas/types";

describe("wire codecs", () => {
  it("round-trips every command kind", () => {
    const commands: Command[] = [
      {
        workflowId: "w",
        sentAt: 1,
        body: {
          type: "StartWorkflow",
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
        },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: { type: "SignalWorkflow", signalName: "s", payload: "1", requestId: "r" },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: { type: "CancelWorkflow", reason: "why", requestId: "r" },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: { type: "ReportStepStarted", stepSeq: 1, attempt: 1, workerId: "x", startedAt: 7 },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: { type: "ReportStepCompleted", stepSeq: 1, attempt: 1, workerId: "x", result: "2" },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: {
          type: "ReportStepFailed",
          stepSeq: 1,
          attempt: 2,
          workerId: "x",
          error: { name: "E", message: "m", stack: null, terminal: false, code: "C" },
        },
      },
    ];
    for (const c of commands)
      expect(commandCodec.decode(commandCodec.encode(c), { ...commandCodec.headers })).toEqual(c);
  });

  it("round-trips history events and tasks", () => {
    const event: HistoryEvent = {
      workflowId: "w",
      seq: 3,
      at: 99,
      body: { type: "SignalWaitStarted", waitSeq: 2, signalName: "go", timeoutMs: 100, dueAt: 199 },
    };
    expect(historyCodec.decode(historyCodec.encode(event))).toEqual(event);
    const task = {
      workflowId: "w",
      workflowType: "t",
      stepSeq: 1,
      stepName: "s",
      attempt: 1,
      input: "{}",
      idempotencyKey: "w/1",
      timeoutMs: null,
      dispatchedAt: 5,
    };
    expect(taskCodec.decode(taskCodec.encode(task))).toEqual(task);
  });

  it("refuses garbage and records that name another schema", () => {
    expect(() =>
      commandCodec.decode(Buffer.from("not avro at all"), { ...commandCodec.headers }),
    ).toThrow(UndecodableRecordError);
    const event = historyCodec.encode({
      workflowId: "w",
      seq: 1,
      at: 1,
      body: { type: "TimerFired", timerSeq: 1 },
    });
    expect(() => commandCodec.decode(event, { ...historyCodec.headers })).toThrow(
      /expected schema weft.commands.Command v1/,
    );
    expect(() => commandCodec.decode(null)).toThrow(UndecodableRecordError);
  });
});
