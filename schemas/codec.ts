import { readFileSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import { UndecodableRecordError } from "../core/errors";
import type {
  Command,
  DeadLetter,
  HistoryEvent,
  Registration,
  StepLogRecord,
  StepCancel,
  StepTask,
} from "./types";

export const SCHEMA_HEADER = "weft-schema";
export const SCHEMA_VERSION_HEADER = "weft-schema-version";
/**
 * The body type of a command (`StartWorkflow`, `ReportStepCompleted`, …): readers that want one
 * kind (the projector wants starts only) skip the others without decoding them.
 */
export const COMMAND_TYPE_HEADER = "weft-command-type";

export type RecordHeaders = Record<string, string>;

/** Reads records written in an earlier version of a schema (avsc does not export its type). */
type Resolver = ReturnType<avro.Type["createResolver"]>;

/**
 * Encodes and decodes one record type. Records whose body is a union carry it in the
 * TypeScript shape `{ type: "Kind", ...fields }` and in Avro's wrapped-union shape on the wire.
 * Records are written in the current version; a record of an earlier version (named by its
 * header) is read through Avro schema resolution, so the fields added since take their defaults.
 */
/** Where every codec writes a record before copying it out; grows to the largest written. */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

export class RecordCodec<T> {
  readonly headers: RecordHeaders;
  private readonly type: avro.Type;
  private readonly namespace: string;
  /** Readers of the earlier versions, by version header. */
  private readonly resolvers = new Map<string, Resolver>();
  /** The body union's branch names by body type, and back. */
  private readonly branches = new Map<string, string>();
  private readonly types = new Map<string, string>();

  constructor(
    readonly schemaName: string,
    readonly version: number,
    file: string,
    private readonly hasBody: boolean,
    /** The schema file of each earlier version still readable, by version. */
    earlier: Readonly<Record<number, string>> = {},
  ) {
    this.type = loadType(file);
    for (const [old, oldFile] of Object.entries(earlier)) {
      this.resolvers.set(old, this.type.createResolver(loadType(oldFile)));
    }
    this.namespace = schemaName.slice(0, schemaName.lastIndexOf("."));
    if (hasBody) {
      const union = (this.type as avro.types.RecordType).field("body").type;
      for (const branch of (union as avro.types.WrappedUnionType).types) {
        const name = branch.name!;
        const type = name.slice(this.namespace.length + 1);
        this.branches.set(type, name);
        this.types.set(name, type);
      }
    }
    this.headers = Object.freeze({
      [SCHEMA_HEADER]: schemaName,
      [SCHEMA_VERSION_HEADER]: String(version),
    });
  }

  encode(value: T): Buffer {
    return this.encodeAfter(value, 0);
  }

  /**
   * The record's bytes after `reserved` bytes left for the caller (a length prefix), in one
   * buffer: a caller that frames the record does not copy it a second time.
   */
  encodeAfter(value: T, reserved: number): Buffer {
    const wire = this.hasBody ? this.wrapBody(value as WithBody) : value;
    // Written into a scratch buffer and copied into one from Node's pool, rather than by
    // avsc's toBuffer, which gives each record a zero-filled buffer of its own (an
    // ArrayBuffer each, several a step, and the garbage collection of them).
    let end = this.type.encode(wire, scratch, 0);
    if (end < 0) {
      scratch = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, scratch.length - end));
      end = this.type.encode(wire, scratch, 0);
    }
    const out = Buffer.allocUnsafe(reserved + end);
    scratch.copy(out, reserved, 0, end);
    return out;
  }

  /**
   * Decodes a record, checking its headers name this schema in the current or an earlier
   * version; without headers, the record is taken to be of the current version. Throws
   * UndecodableRecordError.
   */
  decode(value: Buffer | null, headers?: Record<string, unknown>): T {
    if (value === null) throw new UndecodableRecordError("record has no value");
    let resolver: Resolver | undefined;
    if (headers) {
      const name = headerString(headers[SCHEMA_HEADER]);
      const version = headerString(headers[SCHEMA_VERSION_HEADER]);
      resolver = version === undefined ? undefined : this.resolvers.get(version);
      if (name !== this.schemaName || (version !== String(this.version) && !resolver)) {
        throw new UndecodableRecordError(
          `expected schema ${this.schemaName} v${this.readableVersions()}, record names ${name ?? "none"} v${version ?? "none"}`,
        );
      }
    }
    let wire: unknown;
    try {
      wire = this.type.fromBuffer(value, resolver);
    } catch (err) {
      throw new UndecodableRecordError(`not a valid ${this.schemaName}: ${(err as Error).message}`);
    }
    return (this.hasBody ? this.unwrapBody(wire as WireWithBody) : wire) as T;
  }

  private readableVersions(): string {
    return [...this.resolvers.keys(), String(this.version)].join("/v");
  }

  /**
   * The body as the union's branch named by its type. The body goes in whole, `type` and all:
   * a record's writer reads its schema's fields and nothing else. (Copying it without `type`
   * was a few per cent of a decider's CPU, most of it the copy's garbage.)
   */
  private wrapBody(value: WithBody): WireWithBody {
    const body = value.body;
    return { ...value, body: { [this.branchOf(body.type)]: body } };
  }

  private unwrapBody(wire: WireWithBody): WithBody {
    let branch = "";
    // The union's one key, without the arrays Object.entries makes.
    for (const key in wire.body) {
      branch = key;
      break;
    }
    return { ...wire, body: { type: this.typeOf(branch), ...wire.body[branch]! } };
  }

  /** The body union's branch for a body type (a type it does not know fails the encode). */
  private branchOf(type: string): string {
    return this.branches.get(type) ?? `${this.namespace}.${type}`;
  }

  private typeOf(branch: string): string {
    return this.types.get(branch) ?? branch.slice(this.namespace.length + 1);
  }
}

interface WithBody {
  body: { type: string } & Record<string, unknown>;
}
interface WireWithBody {
  body: Record<string, Record<string, unknown>>;
}

function headerString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (Array.isArray(value)) return headerString(value[0]);
  return typeof value === "string" ? value : undefined;
}

function loadType(file: string): avro.Type {
  const schema = JSON.parse(readFileSync(join(schemaDir(), file), "utf8")) as avro.Schema;
  return avro.Type.forSchema(schema, { wrapUnions: "auto" });
}

function schemaDir(): string {
  // Compiled code lives in dist/schemas; the .avsc files stay in schemas/.
  return __dirname.includes(`${join("dist", "schemas")}`)
    ? join(__dirname, "..", "..", "schemas")
    : __dirname;
}

/**
 * v2: StartWorkflow carries an ID-reuse policy. v3: and an optional signal (signalWithStart).
 * v4: ReportStepHeartbeat (step.heartbeat reaches the decider), StartWorkflow's executionTimeoutMs.
 * v5: run operations: StartWorkflow's reset (a reset to a step), CancelWorkflow's terminate;
 * child workflows: StartWorkflow's parent, ReportChildClosed.
 */
export const commandCodec = new RecordCodec<Command>(
  "weft.commands.Command",
  5,
  "command.avsc",
  true,
  {
    1: "command.v1.avsc",
    2: "command.v2.avsc",
    3: "command.v3.avsc",
    4: "command.v4.avsc",
  },
);
/**
 * v2: WorkflowCancelled records the cancel's request ID. v3: WorkflowContinuedAsNew. v4:
 * StateUpdated (ctx.setState). v5: WorkflowCancelRequested (a cancel the code may clean up after).
 * v6: timeouts and versioning: WorkflowStarted's executionDeadline and definitionHash,
 * StepScheduled's heartbeat and schedule-to-start timeouts, StepHeartbeatRecorded, PatchMarked.
 * v7: run operations: WorkflowStarted's reset, StepCompleted's reusedFrom, WorkflowCancelled's
 * terminated; child workflows: WorkflowStarted's parent, ChildWorkflowScheduled/Completed/Failed.
 * v8: cancellation scopes (ctx.cancellable): StepCancelled, TimerCancelled, SignalWaitCancelled,
 * ChildWorkflowCancelRequested, each a pending operation of a scope the code cancelled;
 * WorkflowStarted's executionTimeoutMs (what the deadline was set from).
 */
export const historyCodec = new RecordCodec<HistoryEvent>(
  "weft.events.HistoryEvent",
  8,
  "history-event.avsc",
  true,
  {
    1: "history-event.v1.avsc",
    2: "history-event.v2.avsc",
    3: "history-event.v3.avsc",
    4: "history-event.v4.avsc",
    5: "history-event.v5.avsc",
    6: "history-event.v6.avsc",
    7: "history-event.v7.avsc",
  },
);
/** v2: the attempt's heartbeat timeout and the step's last heartbeat details. */
export const taskCodec = new RecordCodec<StepTask>(
  "weft.tasks.StepTask",
  2,
  "step-task.avsc",
  false,
  { 1: "step-task.v1.avsc" },
);
/** Beside StepTask on the task topics, told apart by the schema header (see task-consumer.ts). */
export const stepCancelCodec = new RecordCodec<StepCancel>(
  "weft.tasks.StepCancel",
  1,
  "step-cancel.avsc",
  false,
);
export const deadLetterCodec = new RecordCodec<DeadLetter>(
  "weft.dlq.DeadLetter",
  1,
  "dead-letter.avsc",
  false,
);
export const registrationCodec = new RecordCodec<Registration>(
  "weft.registrations.Registration",
  1,
  "registration.avsc",
  false,
);
export const stepLogCodec = new RecordCodec<StepLogRecord>(
  "weft.steplogs.StepLog",
  1,
  "step-log.avsc",
  false,
);

/**
 * A step result's `startedAt` (its attempt's start, sent with it): in a header rather than the
 * Avro body, so a decider of an earlier version still reads the result (and records no start)
 * instead of sending a record of a schema version it does not know to the DLQ.
 */
export const STEP_STARTED_AT_HEADER = "weft-step-started-at";

/** The headers of a command record: its schema, its body type, and a result's start. */
export function commandHeaders(command: Command): RecordHeaders {
  const { body } = command;
  const headers = { ...commandCodec.headers, [COMMAND_TYPE_HEADER]: body.type };
  if (
    (body.type === "ReportStepCompleted" || body.type === "ReportStepFailed") &&
    body.startedAt != null
  )
    return { ...headers, [STEP_STARTED_AT_HEADER]: String(body.startedAt) };
  return headers;
}

/**
 * A command record as the decider reads it: the Avro body, and a step result's `startedAt`
 * from its header (a header that is not a time is ignored: the result still counts). Throws
 * UndecodableRecordError.
 */
export function decodeCommand(
  value: Buffer | null,
  headers: Record<string, unknown> | undefined,
): Command {
  const command = commandCodec.decode(value, headers);
  const { body } = command;
  if (body.type !== "ReportStepCompleted" && body.type !== "ReportStepFailed") return command;
  const startedAt = Number(headerText(headers, STEP_STARTED_AT_HEADER) ?? Number.NaN);
  return Number.isSafeInteger(startedAt) ? { ...command, body: { ...body, startedAt } } : command;
}

/** A record header as text (kafkajs gives Buffers), or undefined. */
export function headerText(headers: Record<string, unknown> | undefined, name: string) {
  return headers ? headerString(headers[name]) : undefined;
}
