import { randomUUID } from "node:crypto";
import { InvalidInputError } from "../core/errors";
import { assertWorkflowId, newWorkflowId, workflowIdFromIdempotencyKey } from "../core/ids";
import { toJsonText } from "../core/json";
import {
  ID_REUSE_POLICIES,
  type Command,
  type CommandBody,
  type IdReusePolicy,
} from "../schemas/types";

/** A command whose body is of the given kind. */
export type CommandOf<K extends CommandBody["type"]> = Command & {
  body: Extract<CommandBody, { type: K }>;
};

/** Names (workflow types, signal names) and reasons are short text, never empty names. */
export const MAX_NAME_LENGTH = 200;
export const MAX_REASON_LENGTH = 4096;

export interface StartCommandOptions {
  workflowId?: string;
  input?: unknown;
  idempotencyKey?: string;
  /** Whether a closed run's workflow ID may start a new run (see IdReusePolicy). */
  idReusePolicy?: IdReusePolicy;
  /**
   * The run fails with WORKFLOW_TIMEOUT if still open this long after its start; over the
   * workflow's own `executionTimeoutMs`.
   */
  executionTimeoutMs?: number;
}

/**
 * The commands a client sends, validated and built the same way for every front end (the SDK
 * client and the GraphQL API). Each throws a WeftError (INVALID_WORKFLOW_ID or INVALID_INPUT)
 * for what a caller sent wrong.
 */
export function startWorkflowCommand(
  workflowType: string,
  options: StartCommandOptions,
): CommandOf<"StartWorkflow"> {
  assertName(workflowType, "workflow type");
  if (options.idempotencyKey !== undefined) assertText(options.idempotencyKey, "idempotency key");
  const policy = options.idReusePolicy;
  if (policy !== undefined && !ID_REUSE_POLICIES.includes(policy)) {
    throw new InvalidInputError(
      `ID-reuse policy ${JSON.stringify(policy)} is none of ${ID_REUSE_POLICIES.join(", ")}`,
    );
  }
  const timeout = options.executionTimeoutMs;
  if (
    timeout !== undefined &&
    (typeof timeout !== "number" || !Number.isSafeInteger(timeout) || timeout <= 0)
  ) {
    throw new InvalidInputError(
      `executionTimeoutMs must be a positive whole number of milliseconds, got ${String(timeout)}`,
    );
  }
  const workflowId = assertWorkflowId(
    options.workflowId ??
      (options.idempotencyKey !== undefined
        ? workflowIdFromIdempotencyKey(workflowType, options.idempotencyKey)
        : newWorkflowId(workflowType)),
  );
  return {
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "StartWorkflow",
      workflowType,
      input: toJsonText(options.input, "workflow input"),
      idempotencyKey: options.idempotencyKey ?? null,
      requestId: randomUUID(),
      idReusePolicy: policy ?? null,
      signal: null,
      executionTimeoutMs: timeout ?? null,
    },
  };
}

export interface SignalWithStartCommandOptions extends StartCommandOptions {
  /** Required: the run to signal, or to start and signal. */
  workflowId: string;
  signalName: string;
  payload?: unknown;
  /** Names the request: a retry with the same ID records the signal once. */
  requestId?: string | null;
}

/**
 * signalWithStart: one StartWorkflow command carrying a signal. The decider starts the run
 * when the ID names no open run (as a start would, under its ID-reuse policy) and records the
 * signal right after its WorkflowStarted; when the ID names an open run it records the signal
 * for that run. One command, so one decision: no window in which the run exists without it.
 */
export function signalWithStartCommand(
  workflowType: string,
  options: SignalWithStartCommandOptions,
): CommandOf<"StartWorkflow"> {
  if (typeof options.workflowId !== "string")
    throw new InvalidInputError("signalWithStart needs a workflowId: the run to signal or start");
  assertName(options.signalName, "signal name");
  const command = startWorkflowCommand(workflowType, options);
  return {
    ...command,
    body: {
      ...command.body,
      requestId: requestIdOf(options.requestId),
      signal: {
        signalName: options.signalName,
        payload: toJsonText(options.payload, `payload of signal ${options.signalName}`),
      },
    },
  };
}

/**
 * The request ID a signal or cancel carries: the caller's, or a new UUID. A retry of the same
 * call must carry the same ID; the run then records the signal once however often it arrives.
 */
function requestIdOf(requestId: string | null | undefined): string {
  if (requestId === undefined || requestId === null) return randomUUID();
  assertName(requestId, "request ID");
  return requestId;
}

export function signalWorkflowCommand(
  workflowId: string,
  signalName: string,
  payload?: unknown,
  requestId?: string | null,
): CommandOf<"SignalWorkflow"> {
  assertWorkflowId(workflowId);
  assertName(signalName, "signal name");
  return {
    workflowId,
    sentAt: Date.now(),
    body: {
      type: "SignalWorkflow",
      signalName,
      payload: toJsonText(payload, `payload of signal ${signalName}`),
      requestId: requestIdOf(requestId),
    },
  };
}

export function cancelWorkflowCommand(
  workflowId: string,
  reason?: string | null,
  requestId?: string | null,
): CommandOf<"CancelWorkflow"> {
  assertWorkflowId(workflowId);
  if (reason !== undefined && reason !== null)
    assertText(reason, "cancel reason", MAX_REASON_LENGTH);
  return {
    workflowId,
    sentAt: Date.now(),
    body: { type: "CancelWorkflow", reason: reason ?? null, requestId: requestIdOf(requestId) },
  };
}

/**
 * A terminate: the run closes cancelled at once, its code not run (no cleanup), and its
 * running steps are told to stop. Checked and deduplicated as a cancel is.
 */
export function terminateWorkflowCommand(
  workflowId: string,
  reason?: string | null,
  requestId?: string | null,
): CommandOf<"CancelWorkflow"> {
  const command = cancelWorkflowCommand(workflowId, reason, requestId);
  return { ...command, body: { ...command.body, terminate: true } };
}

function assertName(value: string, what: string): void {
  assertText(value, what);
  if (value.trim() === "") throw new InvalidInputError(`${what} must not be empty`);
}

function assertText(value: string, what: string, max = MAX_NAME_LENGTH): void {
  if (typeof value !== "string") throw new InvalidInputError(`${what} must be a string`);
  if (value.length > max) {
    throw new InvalidInputError(`${what} is ${value.length} characters; the limit is ${max}`, {
      length: value.length,
      limit: max,
    });
  }
}
