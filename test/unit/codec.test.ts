import { readFileSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import { UndecodableRecordError } from "../../core/errors";
import {
  COMMAND_TYPE_HEADER,
  commandCodec,
  commandHeaders,
  decodeCommand,
  historyCodec,
  registrationCodec,
  STEP_STARTED_AT_HEADER,
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
          idReusePolicy: null,
          signal: null,
          executionTimeoutMs: null,
          reset: null,
          parent: null,
        },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: {
          type: "StartWorkflow",
          workflowType: "t",
          input: "{}",
          idempotencyKey: "k",
          requestId: "r2",
          idReusePolicy: "allowAfterFailure",
          signal: { signalName: "approve", payload: '{"by":"ada"}' },
          executionTimeoutMs: 86_400_000,
          reset: {
            sourceWorkflowId: "w0",
            sourceRunStartSeq: 1,
            toStepSeq: 3,
            steps: [{ stepSeq: 1, stepName: "s", result: '{"ok":true}' }],
          },
          parent: { workflowId: "p", childSeq: 3 },
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
        body: { type: "CancelWorkflow", reason: "why", requestId: "r", terminate: false },
      },
      {
        workflowId: "w",
        sentAt: 1,
        body: { type: "CancelWorkflow", reason: "stuck", requestId: "r", terminate: true },
      },
      {
        workflowId: "p",
        sentAt: 1,
        body: {
          type: "ReportChildClosed",
          childSeq: 3,
          childWorkflowId: "p/3",
          status: "failed",
          result: null,
          error: { name: "E", message: "m", stack: null, terminal: false, code: "C" },
        },
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
      heartbeatTimeoutMs: 2000,
      lastHeartbeatDetails: '{"page":3}',
    };
    expect(taskCodec.decode(taskCodec.encode(task))).toEqual(task);
  });

  it("records a cancel's request ID, and still reads history written before it (v1)", () => {
    const cancelled: HistoryEvent = {
      workflowId: "w",
      seq: 4,
      at: 9,
      body: { type: "WorkflowCancelled", reason: "why", requestId: "c-1", terminated: false },
    };
    expect(
      historyCodec.decode(historyCodec.encode(cancelled), { ...historyCodec.headers }),
    ).toEqual(cancelled);
    expect(historyCodec.headers["weft-schema-version"]).toBe("8");

    // Records as a v1 writer put them on the wire, read back through today's codec.
    const v1 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "history-event.v1.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const v1Headers = { "weft-schema": "weft.events.HistoryEvent", "weft-schema-version": "1" };
    const oldCancel = v1.toBuffer({
      workflowId: "w",
      seq: 4,
      at: 9,
      body: { "weft.events.WorkflowCancelled": { reason: "why" } },
    });
    expect(historyCodec.decode(oldCancel, v1Headers)).toEqual({
      ...cancelled,
      body: { type: "WorkflowCancelled", reason: "why", requestId: null, terminated: false },
    });
    const oldSignal = v1.toBuffer({
      workflowId: "w",
      seq: 3,
      at: 8,
      body: { "weft.events.SignalReceived": { signalName: "go", payload: "1", requestId: "r" } },
    });
    expect(historyCodec.decode(oldSignal, v1Headers)).toEqual({
      workflowId: "w",
      seq: 3,
      at: 8,
      body: { type: "SignalReceived", signalName: "go", payload: "1", requestId: "r" },
    });
    // A version this code does not know is refused, not guessed at.
    expect(() =>
      historyCodec.decode(oldCancel, {
        ...v1Headers,
        "weft-schema-version": String(historyCodec.version + 1),
      }),
    ).toThrow(
      /expected schema weft.events.HistoryEvent v1\/v2\/v3\/v4\/v5\/v6\/v7\/v8, record names .* v9/,
    );
  });

  it("records a run continued as new (v3), and reads starts written before ID-reuse policies (command v1)", () => {
    const continued: HistoryEvent = {
      workflowId: "w",
      seq: 5,
      at: 9,
      body: { type: "WorkflowContinuedAsNew", input: '{"n":1}' },
    };
    expect(
      historyCodec.decode(historyCodec.encode(continued), { ...historyCodec.headers }),
    ).toEqual(continued);
    expect(commandCodec.headers["weft-schema-version"]).toBe("5");
    const v1 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "command.v1.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const oldStart = v1.toBuffer({
      workflowId: "w",
      sentAt: 1,
      body: {
        "weft.commands.StartWorkflow": {
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
        },
      },
    });
    expect(
      commandCodec.decode(oldStart, {
        "weft-schema": "weft.commands.Command",
        "weft-schema-version": "1",
      }),
    ).toEqual({
      workflowId: "w",
      sentAt: 1,
      body: {
        type: "StartWorkflow",
        workflowType: "t",
        input: "{}",
        idempotencyKey: null,
        requestId: "r",
        idReusePolicy: null,
        signal: null,
        executionTimeoutMs: null,
        reset: null,
        parent: null,
      },
    });
  });

  it("records a cancel request (history v5) and reads v4 records", () => {
    const requested: HistoryEvent = {
      workflowId: "w",
      seq: 3,
      at: 9,
      body: { type: "WorkflowCancelRequested", reason: "duplicate", requestId: "r1" },
    };
    expect(
      historyCodec.decode(historyCodec.encode(requested), { ...historyCodec.headers }),
    ).toEqual(requested);
    const v4 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "history-event.v4.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const oldState = v4.toBuffer({
      workflowId: "w",
      seq: 2,
      at: 9,
      body: { "weft.events.StateUpdated": { state: "1" } },
    });
    expect(
      historyCodec.decode(oldState, {
        "weft-schema": "weft.events.HistoryEvent",
        "weft-schema-version": "4",
      }).body,
    ).toEqual({ type: "StateUpdated", state: "1" });
  });

  it("records run state (history v4), and reads starts written before signalWithStart (command v2)", () => {
    const updated: HistoryEvent = {
      workflowId: "w",
      seq: 2,
      at: 9,
      body: { type: "StateUpdated", state: '{"approvals":1}' },
    };
    expect(historyCodec.decode(historyCodec.encode(updated), { ...historyCodec.headers })).toEqual(
      updated,
    );
    const v3 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "history-event.v3.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const oldContinued = v3.toBuffer({
      workflowId: "w",
      seq: 5,
      at: 9,
      body: { "weft.events.WorkflowContinuedAsNew": { input: "{}" } },
    });
    expect(
      historyCodec.decode(oldContinued, {
        "weft-schema": "weft.events.HistoryEvent",
        "weft-schema-version": "3",
      }).body,
    ).toEqual({ type: "WorkflowContinuedAsNew", input: "{}" });
    const v2 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "command.v2.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const oldStart = v2.toBuffer({
      workflowId: "w",
      sentAt: 1,
      body: {
        "weft.commands.StartWorkflow": {
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
          idReusePolicy: "allowAfterClose",
        },
      },
    });
    expect(
      commandCodec.decode(oldStart, {
        "weft-schema": "weft.commands.Command",
        "weft-schema-version": "2",
      }).body,
    ).toEqual({
      type: "StartWorkflow",
      workflowType: "t",
      input: "{}",
      idempotencyKey: null,
      requestId: "r",
      idReusePolicy: "allowAfterClose",
      signal: null,
      executionTimeoutMs: null,
      reset: null,
      parent: null,
    });
  });

  it("records timeouts, heartbeats and patches (history v6), and reads v5 records", () => {
    const events: HistoryEvent[] = [
      {
        workflowId: "w",
        seq: 1,
        at: 9,
        body: {
          type: "WorkflowStarted",
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
          executionDeadline: 1009,
          executionTimeoutMs: 1000,
          definitionHash: "0123456789abcdef",
          reset: null,
          parent: null,
        },
      },
      {
        workflowId: "w",
        seq: 2,
        at: 9,
        body: { type: "PatchMarked", patchId: "new-fee", afterEvents: 1, deprecated: false },
      },
      {
        workflowId: "w",
        seq: 3,
        at: 9,
        body: {
          type: "StepScheduled",
          stepSeq: 1,
          stepName: "s",
          attempt: 1,
          input: "{}",
          taskQueue: "q",
          timeoutMs: null,
          retryPolicy: "{}",
          heartbeatTimeoutMs: 500,
          scheduleToStartTimeoutMs: 700,
        },
      },
      {
        workflowId: "w",
        seq: 4,
        at: 10,
        body: { type: "StepHeartbeatRecorded", stepSeq: 1, attempt: 1, details: '{"page":2}' },
      },
    ];
    for (const event of events)
      expect(historyCodec.decode(historyCodec.encode(event), { ...historyCodec.headers })).toEqual(
        event,
      );
    const v5 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "history-event.v5.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    );
    const oldStart = v5.toBuffer({
      workflowId: "w",
      seq: 1,
      at: 9,
      body: {
        "weft.events.WorkflowStarted": {
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: null,
        },
      },
    });
    // A run started before v6 has no deadline (it never times out) and no recorded version.
    expect(
      historyCodec.decode(oldStart, {
        "weft-schema": "weft.events.HistoryEvent",
        "weft-schema-version": "5",
      }).body,
    ).toEqual({
      type: "WorkflowStarted",
      workflowType: "t",
      input: "{}",
      idempotencyKey: null,
      requestId: null,
      executionDeadline: null,
      executionTimeoutMs: null,
      definitionHash: null,
      reset: null,
      parent: null,
    });
  });

  it("records run operations (history v7, command v5), and reads v6 and v4 records", () => {
    const reset = {
      sourceWorkflowId: "order-7",
      sourceRunStartSeq: 1,
      toStepSeq: 3,
      steps: [{ stepSeq: 1, stepName: "reserve", result: '{"held":2}' }],
    };
    const events: HistoryEvent[] = [
      {
        workflowId: "order-7.reset",
        seq: 1,
        at: 9,
        body: {
          type: "WorkflowStarted",
          workflowType: "order",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
          executionDeadline: null,
          executionTimeoutMs: null,
          definitionHash: null,
          reset,
          parent: null,
        },
      },
      {
        workflowId: "order-7.reset",
        seq: 3,
        at: 9,
        body: {
          type: "StepCompleted",
          stepSeq: 1,
          attempt: 1,
          workerId: null,
          result: '{"held":2}',
          reusedFrom: "order-7",
        },
      },
      {
        workflowId: "order-7.reset",
        seq: 4,
        at: 10,
        body: { type: "WorkflowCancelled", reason: "stuck", requestId: "t", terminated: true },
      },
    ];
    for (const event of events)
      expect(historyCodec.decode(historyCodec.encode(event), { ...historyCodec.headers })).toEqual(
        event,
      );
    const schema = (file: string): avro.Type =>
      avro.Type.forSchema(
        JSON.parse(
          readFileSync(join(__dirname, "..", "..", "schemas", file), "utf8"),
        ) as avro.Schema,
        { wrapUnions: "auto" },
      );
    // Written before run operations: a worker's result, a cancel, a start that resets nothing.
    const v6 = schema("history-event.v6.avsc").toBuffer({
      workflowId: "w",
      seq: 2,
      at: 9,
      body: { "weft.events.StepCompleted": { stepSeq: 1, attempt: 1, workerId: "k", result: "1" } },
    });
    expect(
      historyCodec.decode(v6, {
        "weft-schema": "weft.events.HistoryEvent",
        "weft-schema-version": "6",
      }).body,
    ).toEqual({
      type: "StepCompleted",
      stepSeq: 1,
      attempt: 1,
      workerId: "k",
      result: "1",
      reusedFrom: null,
    });
    const v4 = schema("command.v4.avsc").toBuffer({
      workflowId: "w",
      sentAt: 1,
      body: { "weft.commands.CancelWorkflow": { reason: null, requestId: "c" } },
    });
    expect(
      commandCodec.decode(v4, {
        "weft-schema": "weft.commands.Command",
        "weft-schema-version": "4",
      }).body,
    ).toEqual({ type: "CancelWorkflow", reason: null, requestId: "c", terminate: false });
  });

  it("records child workflows (history v7, command v5), and reads v6 starts and v4 cancels", () => {
    const error = { name: "E", message: "m", stack: null, terminal: true, code: "C" };
    const events: HistoryEvent[] = [
      {
        workflowId: "p/1",
        seq: 1,
        at: 9,
        body: {
          type: "WorkflowStarted",
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: "r",
          executionDeadline: null,
          executionTimeoutMs: null,
          definitionHash: null,
          reset: null,
          parent: { workflowId: "p", childSeq: 1 },
        },
      },
      {
        workflowId: "p",
        seq: 2,
        at: 9,
        body: {
          type: "ChildWorkflowScheduled",
          childSeq: 1,
          childWorkflowId: "p/1",
          workflowType: "t",
          input: "{}",
          parentClosePolicy: "terminate",
        },
      },
      {
        workflowId: "p",
        seq: 3,
        at: 9,
        body: { type: "ChildWorkflowCompleted", childSeq: 1, childWorkflowId: "p/1", result: "1" },
      },
      {
        workflowId: "p",
        seq: 4,
        at: 9,
        body: {
          type: "ChildWorkflowFailed",
          childSeq: 2,
          childWorkflowId: "p/2",
          status: "cancelled",
          error,
        },
      },
    ];
    for (const event of events)
      expect(historyCodec.decode(historyCodec.encode(event), { ...historyCodec.headers })).toEqual(
        event,
      );
    const load = (file: string) =>
      avro.Type.forSchema(
        JSON.parse(
          readFileSync(join(__dirname, "..", "..", "schemas", file), "utf8"),
        ) as avro.Schema,
        { wrapUnions: "auto" },
      );
    // A run started before v7 has no parent.
    const oldStart = load("history-event.v6.avsc").toBuffer({
      workflowId: "w",
      seq: 1,
      at: 9,
      body: {
        "weft.events.WorkflowStarted": {
          workflowType: "t",
          input: "{}",
          idempotencyKey: null,
          requestId: null,
          executionDeadline: null,
          definitionHash: null,
        },
      },
    });
    const started = historyCodec.decode(oldStart, {
      "weft-schema": "weft.events.HistoryEvent",
      "weft-schema-version": "6",
    }).body;
    expect(started).toMatchObject({ type: "WorkflowStarted", reset: null, parent: null });
    // A cancel sent before v5 lets the code clean up.
    const oldCancel = load("command.v4.avsc").toBuffer({
      workflowId: "w",
      sentAt: 1,
      body: { "weft.commands.CancelWorkflow": { reason: null, requestId: "c" } },
    });
    expect(
      commandCodec.decode(oldCancel, {
        "weft-schema": "weft.commands.Command",
        "weft-schema-version": "4",
      }).body,
    ).toEqual({ type: "CancelWorkflow", reason: null, requestId: "c", terminate: false });
  });

  it("records cancels of a scope's operations (history v8), and reads v7 records", () => {
    const events: HistoryEvent[] = [
      {
        workflowId: "w",
        seq: 5,
        at: 9,
        body: { type: "StepCancelled", stepSeq: 2, attempt: 3, reason: "enough" },
      },
      {
        workflowId: "w",
        seq: 6,
        at: 9,
        body: { type: "TimerCancelled", timerSeq: 3, reason: null },
      },
      {
        workflowId: "w",
        seq: 7,
        at: 9,
        body: { type: "SignalWaitCancelled", waitSeq: 4, signalName: "go", reason: "r" },
      },
      {
        workflowId: "w",
        seq: 8,
        at: 9,
        body: {
          type: "ChildWorkflowCancelRequested",
          childSeq: 5,
          childWorkflowId: "w/5",
          reason: null,
        },
      },
    ];
    for (const event of events)
      expect(historyCodec.decode(historyCodec.encode(event), { ...historyCodec.headers })).toEqual(
        event,
      );
    const v7 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "history-event.v7.avsc"), "utf8"),
      ) as avro.Schema,
      { wrapUnions: "auto" },
    ).toBuffer({
      workflowId: "w",
      seq: 2,
      at: 9,
      body: { "weft.events.TimerFired": { timerSeq: 1 } },
    });
    expect(
      historyCodec.decode(v7, {
        "weft-schema": "weft.events.HistoryEvent",
        "weft-schema-version": "7",
      }).body,
    ).toEqual({ type: "TimerFired", timerSeq: 1 });
  });

  it("reports heartbeats (command v4) and reads tasks written before heartbeat timeouts (task v1)", () => {
    const beat = {
      workflowId: "w",
      sentAt: 5,
      body: {
        type: "ReportStepHeartbeat" as const,
        stepSeq: 1,
        attempt: 2,
        workerId: "k",
        details: "[1]",
      },
    };
    expect(commandCodec.decode(commandCodec.encode(beat), { ...commandCodec.headers })).toEqual(
      beat,
    );
    const v1 = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(__dirname, "..", "..", "schemas", "step-task.v1.avsc"), "utf8"),
      ) as avro.Schema,
    );
    const oldTask = {
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
    expect(
      taskCodec.decode(v1.toBuffer(oldTask), {
        "weft-schema": "weft.tasks.StepTask",
        "weft-schema-version": "1",
      }),
    ).toEqual({ ...oldTask, heartbeatTimeoutMs: null, lastHeartbeatDetails: null });
    expect(taskCodec.headers["weft-schema-version"]).toBe("2");
  });

  it("carries a quick step's start in a header its Avro body does not change for", () => {
    const result = (startedAt?: number): Command => ({
      workflowId: "w",
      sentAt: 1,
      body: {
        type: "ReportStepCompleted",
        stepSeq: 1,
        attempt: 1,
        workerId: "x",
        result: "2",
        ...(startedAt === undefined ? {} : { startedAt }),
      },
    });
    const quick = result(1_700_000_000_123);
    const headers = commandHeaders(quick);
    expect(headers[STEP_STARTED_AT_HEADER]).toBe("1700000000123");
    expect(commandHeaders(result())).not.toHaveProperty(STEP_STARTED_AT_HEADER);
    // The same bytes as a result without a start, in the current version: any decider reads it.
    const value = commandCodec.encode(quick);
    expect(value.equals(commandCodec.encode(result()))).toBe(true);
    expect(headers["weft-schema-version"]).toBe(commandCodec.headers["weft-schema-version"]);
    expect(commandCodec.decode(value, headers).body).not.toHaveProperty("startedAt");
    // The decider's read takes the start back, as kafkajs gives headers (Buffers) too.
    expect(decodeCommand(value, headers)).toEqual(quick);
    const asBuffers = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]),
    );
    expect(decodeCommand(value, asBuffers)).toEqual(quick);
    // A header that is not a time is ignored: the result still counts, without a start.
    expect(decodeCommand(value, { ...headers, [STEP_STARTED_AT_HEADER]: "soon" })).toEqual(
      result(),
    );
    // Only results take it.
    const started: Command = {
      workflowId: "w",
      sentAt: 1,
      body: { type: "ReportStepStarted", stepSeq: 1, attempt: 1, workerId: "x", startedAt: 5 },
    };
    const startedHeaders = { ...commandHeaders(started), [STEP_STARTED_AT_HEADER]: "9" };
    expect(decodeCommand(commandCodec.encode(started), startedHeaders)).toEqual(started);
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
