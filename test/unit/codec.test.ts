import { UndecodableRecordError } from "../../core/errors";
import {
  COMMAND_TYPE_HEADER,
  commandCodec,
  commandHeaders,
  historyCodec,
  registrationCodec,
  taskCodec,
} from "../../schemas/codec";
import type { Command, HistoryEvent, Registration } from "../../schemas/types";

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
    for (const c of commands) {
      expect(commandCodec.decode(commandCodec.encode(c), { ...commandCodec.headers })).toEqual(c);
      // Readers pick the kinds they want by header, without decoding.
      expect(commandHeaders(c)[COMMAND_TYPE_HEADER]).toBe(c.body.type);
    }
  });

  it("round-trips registrations", () => {
    const registration: Registration = {
      processId: "p",
      roles: ["decider", "worker"],
      host: "h",
      pid: 7,
      startedAt: 1,
      at: 2,
      intervalMs: 10_000,
      state: "stopped",
      workflows: [
        { name: "w", hash: "0123456789abcdef", taskQueue: null, retry: null, timeoutMs: null },
      ],
      steps: [
        {
          name: "s",
          hash: "fedcba9876543210",
          taskQueue: "q",
          retry: '{"maximumAttempts":2}',
          timeoutMs: 500,
        },
      ],
      queues: ["q"],
      inFlight: 3,
      concurrency: null,
    };
    expect(
      registrationCodec.decode(registrationCodec.encode(registration), {
        ...registrationCodec.headers,
      }),
    ).toEqual(registration);
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
