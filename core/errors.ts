/**
 * Every error Weft raises has a stable code from this table. `instanceof` checks use a
 * symbol marker so they still work when two copies of the package are loaded.
 */
export const ErrorCodes = {
  INVALID_CONFIG: "Configuration is invalid; the message says which option and how to fix it.",
  INVALID_INPUT: "An input, result or payload is not JSON-serialisable or is too large.",
  INVALID_WORKFLOW_ID:
    "A workflow ID is empty, too long or has characters outside [A-Za-z0-9._:@/-].",
  UNKNOWN_WORKFLOW_TYPE:
    "No decider has ever registered a workflow of that type (the API refuses the start), or the decider that owns the run does not define it (the run is blocked).",
  INVALID_SCHEDULE:
    "A schedule's definition is invalid (a cron expression, an interval, its overlap policy or catch-up window, or its name); the message says which part.",
  UNKNOWN_STEP: "A worker received a task for a step it does not host.",
  UNDECODABLE_RECORD: "A Kafka record does not decode against its schema; it went to weft.dlq.",
  DETERMINISM_VIOLATION: "Replaying history through the workflow code issued different commands.",
  NON_DETERMINISTIC_AWAIT:
    "Workflow code waits on something that is not a ctx operation (a promise of its own, fetch, a timer of the process) or called setTimeout, setInterval or setImmediate: the run is blocked; the message names it.",
  STATE_TOO_LARGE:
    "ctx.setState was given a value whose JSON is over 64 KiB: nothing is recorded, and the error is thrown in the workflow code (uncaught, it fails the run).",
  STEP_FAILED: "A step failed for good: a terminal error or its retries were exhausted.",
  STEP_TIMEOUT: "A step attempt ran longer than its timeoutMs.",
  STEP_HEARTBEAT_TIMEOUT:
    "A step attempt with a heartbeatTimeoutMs went that long without step.heartbeat(): it is taken as lost and retried per its policy.",
  STEP_SCHEDULE_TO_START_TIMEOUT:
    "No worker started a step attempt within its scheduleToStartTimeoutMs: the attempt fails and is retried per its policy.",
  WORKFLOW_TIMEOUT:
    "The run was still open at its executionTimeoutMs (counted from the start of the first run of a continue-as-new chain): it failed.",
  STEP_CANCELLED:
    "The step's run was cancelled, or the scope it was called in (ctx.cancellable), while the attempt ran: its AbortSignal aborted, and the attempt, unless it completed anyway, failed for good.",
  SCOPE_CANCELLED:
    "Workflow code cancelled a scope (ctx.cancellable(...).cancel()): each ctx operation made inside it that was still pending, or made after, rejects with ScopeCancelledError; its running step attempts are told to stop, its timers and signal waits end. The rest of the run goes on.",
  CHILD_WORKFLOW_FAILED:
    "A child run (ctx.child) failed, was cancelled or could not start: ctx.child and a handle's result() reject with ChildWorkflowFailedError, whose details name the child and its own error.",
  CHILD_WORKFLOW_ID_IN_USE:
    "ctx.child named a workflow ID that already names another run: the child never started, and ctx.child rejects with CHILD_WORKFLOW_FAILED whose cause has this code.",
  TERMINAL: "A step threw TerminalError: never retried.",
  WORKFLOW_FAILED: "The run ended because the workflow code threw.",
  WORKFLOW_CANCELLED: "The run was cancelled.",
  WORKFLOW_BLOCKED: "The run is parked: see the reason; fix the code and restart its decider.",
  WAIT_TIMEOUT: "Waiting for a run's result took longer than the given timeout.",
  NOT_FOUND:
    "A signal or cancel names a run no start was acknowledged for (the view of the runs had caught up with every command sent before it).",
  RUN_CLOSED:
    "A signal or cancel names a run that has closed (completed, failed or cancelled): a closed run takes no more commands.",
  RUN_OPEN:
    "A reset names a run that is still open, or a re-run asks for an open run's own workflow ID: terminate or cancel the run first.",
  INVALID_RESET_POINT:
    "A reset names a step the run never scheduled: the step seq must be one of the run's own steps.",
  UNAUTHENTICATED:
    "The API (or /metrics) has tokens configured and the request carries no bearer token, or an unknown one; it was refused before its body was read.",
  FORBIDDEN: "The request's token is read-only: it may query and subscribe, not mutate.",
  BAD_REQUEST:
    "The request is not a GraphQL request: malformed JSON, no `query`, a `query` that is not GraphQL text, or a body of the wrong shape.",
  GRAPHQL_VALIDATION_FAILED:
    "The document does not parse, does not validate against the schema, or is over a limit (tokens, depth, aliases, directives, cost); the message says which.",
  BAD_USER_INPUT: "A variable's value does not fit its declared type.",
  METHOD_NOT_ALLOWED:
    "A mutation sent with GET, or /graphql called with a method other than GET and POST.",
  PAYLOAD_TOO_LARGE:
    "The body is over 2 MiB, or the GraphQL document over WEFT_GRAPHQL_MAX_DOCUMENT_BYTES.",
  UNSUPPORTED_MEDIA_TYPE:
    "The body's content type is neither application/json nor application/graphql.",
  RATE_LIMITED:
    "More mutations from this client address than WEFT_GRAPHQL_MUTATIONS_PER_MINUTE; Retry-After says when to try again.",
  TOO_MANY_SUBSCRIPTIONS:
    "The WebSocket already holds WEFT_GRAPHQL_WS_MAX_SUBSCRIPTIONS subscriptions; complete one first.",
  HOST_NOT_ALLOWED:
    "The Host header is not a loopback name or in WEFT_ALLOWED_HOSTS (checked while auth is off, or when the list is set).",
  ORIGIN_NOT_ALLOWED:
    "The request comes from a web page whose origin is not loopback or in WEFT_ALLOWED_ORIGINS (checked while auth is off, or when the list is set).",
  INTERNAL:
    "The API failed in a way that is not the request's fault; the message hides internals, the API log has them.",
  SCHEMA_MISMATCH:
    "The PostgreSQL read-model schema does not match this Weft: the message says whether to run `weft migrate`, upgrade Weft, or restore an edited migration.",
  DATABASE_CORRUPT:
    "The read-model database is damaged or is not a database (a SQLite file that is not one, or PostgreSQL reporting corrupt data); the message names the file or database. On SQLite Weft refuses to start on it.",
  DATABASE_NOT_WRITABLE:
    "The read-model database refuses writes: a SQLite file or its directory is read-only, full or cannot be opened, or PostgreSQL is read-only or denies the user; the message names the file or database. On SQLite Weft refuses to start on it.",
  LOG_CORRUPT:
    "The embedded log is damaged before its end (not a write cut short by a crash): Weft refuses to start on it; the message names the file, the byte offset and `weft repair`.",
  UNAVAILABLE:
    "The API is up but still waits for Kafka, Redis or PostgreSQL (GET /readyz names which); try again shortly.",
  NOT_ACKNOWLEDGED:
    "Kafka did not acknowledge the command within WEFT_COMMAND_ACK_TIMEOUT_MS, or refused it after its retries: it may or may not be written. Send it again with the same workflowId (in the error's extensions) or request ID: Weft records it once.",
  STOPPED: "A role was stopped while it still waited for a dependency to start.",
  UNKNOWN_TRIGGER: "A webhook names a trigger this API does not define (POST /hooks/<name>).",
  BAD_SIGNATURE:
    "A webhook delivery carries no token or HMAC signature, or one that does not match the trigger's secret.",
  UNMAPPABLE_INPUT:
    "A trigger's record or webhook body does not map to a command: it does not decode, has no usable workflow ID, or its map function refused it. A Kafka record goes to weft.dlq with the reason.",
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

const WEFT_ERROR = Symbol.for("weft.error");

export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...details });
    Object.defineProperty(this, WEFT_ERROR, { value: true });
  }

  static is(value: unknown): value is WeftError {
    return typeof value === "object" && value !== null && WEFT_ERROR in value;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!WeftError.is(value)) return false;
    // Subclasses match by name, so copies from another package instance still match.
    return (this as unknown) === WeftError || (value as Error).name === this.name;
  }
}

export class ConfigError extends WeftError {
  constructor(message: string) {
    super("INVALID_CONFIG", message);
  }
}

/** A role was stopped while it was still starting (waiting for Kafka, Redis or PostgreSQL). */
export class RoleStoppedError extends WeftError {
  constructor(role: string, action: string) {
    super("STOPPED", `the ${role} role was stopped while it waited to ${action}`, { role, action });
  }
}

/** Which read-model database an error is about: the file, or the server and database. */
export interface DatabaseErrorDetails {
  /** e.g. `SQLite file /srv/weft/read-models.db` or `PostgreSQL database "weft" on db:5432`. */
  database: string;
  /** The SQLite file, when it is one. */
  file?: string;
  /** The driver's own code: `SQLITE_NOTADB`, `SQLITE_READONLY`, a SQLSTATE. */
  cause?: string;
}

/**
 * The read-model database is damaged: a SQLite file that is not a database, or is malformed.
 * Thrown when it is opened, so a process refuses to start on it rather than crash-looping.
 */
export class DatabaseCorruptError extends WeftError {
  constructor(message: string, details: DatabaseErrorDetails) {
    super("DATABASE_CORRUPT", message, { ...details });
  }
}

/**
 * The read-model database refuses writes (a read-only or unopenable SQLite file or directory).
 * Thrown when it is opened and checked, so a process refuses to start on it.
 */
export class DatabaseNotWritableError extends WeftError {
  constructor(message: string, details: DatabaseErrorDetails) {
    super("DATABASE_NOT_WRITABLE", message, { ...details });
  }
}

/** Errors no retry can mend: the names kafkajs never retries either (src/retry/index.js). */
const PROGRAMMING_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError"]);

/** Codes that end a role's start: waiting would not mend them. */
const UNRECOVERABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "INVALID_CONFIG",
  "SCHEMA_MISMATCH",
  "STOPPED",
  "DATABASE_CORRUPT",
  "DATABASE_NOT_WRITABLE",
]);

/**
 * Whether an error ends a role rather than being waited out. This is the one place that
 * decides it: Weft's configuration errors (INVALID_CONFIG, SCHEMA_MISMATCH: fix the setting,
 * run `weft migrate` or upgrade), a SQLite read-model file found damaged or read-only when it
 * was opened (DATABASE_CORRUPT, DATABASE_NOT_WRITABLE: a local file does not mend itself), a
 * stop, and programming errors. Everything else — a refused
 * connection, a timeout, a coordinator that moved, a leader election, a dependency restarting —
 * is transient: the role retries it with backoff and /readyz says what it waits for.
 */
export function isUnrecoverable(err: unknown): boolean {
  if (WeftError.is(err)) return UNRECOVERABLE_CODES.has(err.code);
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === "string" && PROGRAMMING_ERRORS.has(name);
}

export class InvalidInputError extends WeftError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_INPUT", message, details);
  }
}

export class InvalidWorkflowIdError extends WeftError {
  constructor(workflowId: string) {
    super(
      "INVALID_WORKFLOW_ID",
      `invalid workflow ID ${JSON.stringify(workflowId.slice(0, 80))}: use 1–200 characters of [A-Za-z0-9._:@/-]`,
      { workflowId },
    );
  }
}

export class UndecodableRecordError extends WeftError {
  constructor(message: string) {
    super("UNDECODABLE_RECORD", message);
  }
}

/** The API refuses to start a workflow type that no decider has ever registered. */
export class UnknownWorkflowTypeError extends WeftError {
  constructor(workflowType: string) {
    super(
      "UNKNOWN_WORKFLOW_TYPE",
      `no decider has ever registered a workflow of type ${JSON.stringify(workflowType.slice(0, 200))}: ` +
        "start a decider whose module defines it (weft start <module> --roles decider), then start the run again",
      { workflowType },
    );
  }
}

/** Thrown into workflow code when replay diverges from history. */
export class DeterminismViolationError extends WeftError {
  constructor(
    readonly workflowId: string,
    readonly position: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(
      "DETERMINISM_VIOLATION",
      `workflow ${workflowId} diverged from its history at command ${position}: history has ${expected}, the code now asks for ${found}. ` +
        "Deploy code that replays the recorded history (keep the old path for runs started before the change), or start new runs under a new workflow type.",
      { workflowId, position, expected, found },
    );
  }
}

/** Throw from a step to fail it without retries. */
/**
 * `ctx.setState(value)` with a value whose JSON is over the limit: thrown in the workflow code
 * before anything is recorded, so the run's last state stays.
 */
export class StateTooLargeError extends WeftError {
  constructor(bytes: number, limit: number) {
    super(
      "STATE_TOO_LARGE",
      `ctx.setState: the state is ${bytes} bytes of JSON; the limit is ${limit} (keep large data in a step's result or elsewhere, and a summary in the state)`,
      { bytes, limit },
    );
  }
}

export class TerminalError extends WeftError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("TERMINAL", message, details);
  }
}

/** What `ctx.step` rejects with when a step failed for good. */
export class StepFailedError extends WeftError {
  constructor(
    readonly stepName: string,
    readonly attempts: number,
    override readonly cause: { name: string; message: string; code: string | null },
  ) {
    super("STEP_FAILED", `step ${stepName} failed after ${attempts} attempt(s): ${cause.message}`, {
      stepName,
      attempts,
      causeName: cause.name,
      causeCode: cause.code,
    });
  }
}

export class WorkflowFailedError extends WeftError {
  constructor(workflowId: string, message: string, details: Record<string, unknown> = {}) {
    super("WORKFLOW_FAILED", `workflow ${workflowId} failed: ${message}`, {
      workflowId,
      ...details,
    });
  }
}

export class WorkflowCancelledError extends WeftError {
  constructor(workflowId: string, reason: string | null) {
    super(
      "WORKFLOW_CANCELLED",
      `workflow ${workflowId} was cancelled${reason ? `: ${reason}` : ""}`,
      {
        workflowId,
        reason,
      },
    );
  }
}

/**
 * What a ctx operation made inside a cancelled `ctx.cancellable` scope rejects with: pending
 * when the workflow code called `scope.cancel(reason)`, or called after. `operation` names it
 * (`step "charge"`, `wait`, `signal "approve"`, `child workflow "ship"`) when it was pending.
 */
export class ScopeCancelledError extends WeftError {
  constructor(
    readonly reason: string | null,
    readonly operation: string | null,
  ) {
    const what = operation === null ? "the operation" : operation;
    super("SCOPE_CANCELLED", `${what} was cancelled with its scope${reason ? `: ${reason}` : ""}`, {
      reason,
      operation,
    });
  }
}

/**
 * What `ctx.child` (and a child handle's `result()`) rejects with when the child run did not
 * complete: `status` says how it ended (failed, cancelled, or refused when its workflow ID named
 * another run), `cause` is the child's own error.
 */
export class ChildWorkflowFailedError extends WeftError {
  constructor(
    readonly childWorkflowId: string,
    readonly status: "failed" | "cancelled" | "refused",
    override readonly cause: { name: string; message: string; code: string | null },
  ) {
    super(
      "CHILD_WORKFLOW_FAILED",
      `child workflow ${childWorkflowId} ${status === "refused" ? "could not start" : status}: ${cause.message}`,
      { childWorkflowId, status, causeName: cause.name, causeCode: cause.code },
    );
  }
}

/**
 * The reason a step's `signal` aborts with when its run was cancelled, or the scope the step
 * was called in (`ctx.cancellable`), while the attempt ran or before it started; the attempt
 * then fails for good with it, unless it completes anyway. `reason` says which.
 */
export class StepCancelledError extends WeftError {
  constructor(workflowId: string, stepSeq: number, attempt: number, reason: string | null) {
    super(
      "STEP_CANCELLED",
      `step ${stepSeq} (attempt ${attempt}) of workflow ${workflowId} was told to stop${reason ? `: ${reason}` : ": the run was cancelled"}`,
      { workflowId, stepSeq, attempt, reason },
    );
  }
}

export class WorkflowBlockedError extends WeftError {
  constructor(workflowId: string, blockedCode: string, reason: string) {
    super("WORKFLOW_BLOCKED", `workflow ${workflowId} is blocked (${blockedCode}): ${reason}`, {
      workflowId,
      blockedCode,
      reason,
    });
  }
}

export class WaitTimeoutError extends WeftError {
  constructor(what: string, timeoutMs: number) {
    super("WAIT_TIMEOUT", `${what} did not happen within ${timeoutMs} ms`, { timeoutMs });
  }
}

/**
 * A signal or cancel names a run that no start was acknowledged for: the view of the runs it
 * was checked against had applied every command sent to the run's partition before the call
 * (see producers/run-check.ts), and holds no trace of the run.
 */
export class RunNotFoundError extends WeftError {
  constructor(workflowId: string) {
    super(
      "NOT_FOUND",
      `no run ${JSON.stringify(workflowId)}: no start with that workflow ID was acknowledged. ` +
        "Check the ID (a run started with an idempotency key has an ID derived from the key: the one the start returned)",
      { workflowId },
    );
  }
}

/** A signal or cancel names a run that has completed, failed or been cancelled. */
export class RunClosedError extends WeftError {
  constructor(workflowId: string, status: string) {
    super(
      "RUN_CLOSED",
      `run ${JSON.stringify(workflowId)} is ${status}: a closed run takes no signal or cancel`,
      { workflowId, status },
    );
  }
}

/** A reset (or a re-run under the run's own ID) names a run that is still open. */
export class RunOpenError extends WeftError {
  constructor(workflowId: string, status: string, operation: string) {
    super(
      "RUN_OPEN",
      `run ${JSON.stringify(workflowId)} is ${status}: ${operation} needs it closed; terminate or cancel it first`,
      { workflowId, status },
    );
  }
}

/** A reset names a step seq that the run never scheduled. */
export class InvalidResetPointError extends WeftError {
  /** `stepSeq` null: the run's failed step was asked for, and every step it ran completed. */
  constructor(workflowId: string, stepSeq: number | null, steps: readonly number[]) {
    const known = steps.length === 0 ? "it scheduled no step" : `its steps are ${steps.join(", ")}`;
    super(
      "INVALID_RESET_POINT",
      stepSeq === null
        ? `run ${JSON.stringify(workflowId)} has no failed step to reset to: every step it scheduled completed (${known}); re-run it instead`
        : `run ${JSON.stringify(workflowId)} has no step ${stepSeq} to reset to: ${known}`,
      { workflowId, stepSeq },
    );
  }
}

/** Where an embedded log is damaged (see adapters/embedded/log-scan.ts). */
export interface LogCorruptDetails {
  /** The log file. */
  file: string;
  /** Its directory: what `weft repair` takes. */
  directory: string;
  /** Where the first bad frame starts: the end of the last good one. */
  offset: number;
  /** Bytes from `offset` to the end of the file. */
  bytes: number;
  /** What is wrong with the frame at `offset`. */
  fault: string;
  /** The first valid frame after the bad one, if one was found. */
  nextFrame?: number;
  /** Valid frames in a row from `nextFrame` on. */
  framesAfter: number;
}

/**
 * The embedded log is damaged in the middle: a bad frame with more data after it. Opening
 * refuses it, since dropping everything from there would lose acknowledged work silently; a
 * torn last frame (a crash mid-write) is not this, and is dropped at open.
 */
export class LogCorruptError extends WeftError {
  constructor(details: LogCorruptDetails) {
    const { file, directory, offset, bytes, fault, nextFrame, framesAfter } = details;
    const after =
      nextFrame === undefined
        ? `${bytes} bytes from there to the end of the file, more than that frame spans`
        : `${bytes} bytes from there to the end, with ${framesAfter} valid frame(s) from byte ${nextFrame} on`;
    super(
      "LOG_CORRUPT",
      `the embedded log ${file} is corrupt at byte ${offset}: the frame there ${fault}, and ${after}. ` +
        "This is damage in the middle of the log, not a write cut short by a crash, so Weft does not start on it. " +
        `Run \`weft repair ${directory}\` to see what it finds; \`weft repair ${directory} --truncate\` keeps bytes ${offset} to the end aside in a file next to the log and cuts the log there ` +
        "(what was recorded after that point is lost; the read models are rebuilt at the next start). Or restore the file from a backup.",
      { ...details },
    );
  }
}

/** A webhook names no trigger this API defines. */
export class UnknownTriggerError extends WeftError {
  constructor(name: string) {
    super("UNKNOWN_TRIGGER", `no webhook trigger is named ${JSON.stringify(name)}`, { name });
  }
}

/** A webhook delivery's token or HMAC signature is missing or wrong. */
export class BadSignatureError extends WeftError {
  constructor(trigger: string, message: string) {
    super("BAD_SIGNATURE", message, { trigger });
  }
}

/** A trigger's record or webhook body does not map to a command; the message says why. */
export class UnmappableInputError extends WeftError {
  constructor(trigger: string, reason: string) {
    super("UNMAPPABLE_INPUT", `trigger ${trigger}: ${reason}`, { trigger, reason });
  }
}

/**
 * A schedule's definition is invalid: its cron expression (naming the field), its interval,
 * overlap policy, catch-up window or name. Raised where it is given (client, API, CLI), before
 * anything is sent.
 */
export class InvalidScheduleError extends WeftError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_SCHEDULE", message, details);
  }
}
