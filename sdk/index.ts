/** Weft's public API. Everything else is internal and may change. */
export { defineWorkflow, defineStep } from "../workflow/definitions";
export type {
  WorkflowContext,
  WorkflowDefinition,
  WorkflowOptions,
  WorkflowExample,
  StepContext,
  StepLog,
  StepLogLevel,
  StepDefinition,
  StepOptions,
  ChildOptions,
  CancellationScope,
  ChildHandle,
  ParentClosePolicy,
  StepHandler,
  WaitForSignalOptions,
  ConditionOptions,
  SignalHandler,
} from "../workflow/definitions";
export type { RetryPolicy } from "../core/retry";
export { defineTrigger } from "../triggers/definition";
export type {
  TriggerDefinition,
  TriggerOptions,
  TriggerAction,
  TriggerSourceInfo,
  KafkaTriggerSource,
  WebhookTriggerSource,
  WebhookHmac,
  WorkflowIdSource,
} from "../triggers/definition";
export { signWebhookBody } from "../triggers/webhook-auth";
export { WeftClient } from "./client";
export type {
  AcceptedRequest,
  ClientOptions,
  RequestOptions,
  SignalWithStartOptions,
  SignalWithStartResult,
  StartOptions,
} from "./client";
export type { NewRunOptions } from "../producers/run-operations";
export { ScheduleClient } from "./schedules";
export type { ScheduleRef } from "./schedules";
export {
  OVERLAP_POLICIES,
  SCHEDULE_WORKFLOW_TYPE,
  scheduleWorkflowId,
  tickWorkflowId,
} from "../workflow/schedules/spec";
export type {
  OverlapPolicy,
  ScheduleDefinition,
  ScheduleSpec,
  SchedulePatch,
  ScheduleConfig,
} from "../workflow/schedules/spec";
export type { ScheduleState } from "../workflow/schedules/schedule-workflow";
// The starts load what they start when called (sdk/starts.ts): importing the package to
// define workflows and steps loads no role.
export { startRuntime, startEmbedded, embeddedBackends } from "./starts";
export { ROLES } from "./roles";
export type { Role } from "./roles";
export type { Runtime, RuntimeOptions } from "./runtime";
export { DEFAULT_EMBEDDED_DIR } from "./embedded-dir";
export type { EmbeddedOptions, EmbeddedWeft } from "./embedded";
export type { EmbeddedBackendsOptions } from "../adapters/embedded-backends";
export type { Backends } from "../adapters/backends";
export { loadConfig } from "../core/config";
export type { WeftConfig, ConfigInput } from "../core/config";
export {
  ErrorCodes,
  WeftError,
  ConfigError,
  InvalidInputError,
  InvalidWorkflowIdError,
  UnknownWorkflowTypeError,
  DeterminismViolationError,
  TerminalError,
  StepFailedError,
  ChildWorkflowFailedError,
  WorkflowFailedError,
  WorkflowCancelledError,
  ScopeCancelledError,
  StepCancelledError,
  WorkflowBlockedError,
  WaitTimeoutError,
  RunNotFoundError,
  RunClosedError,
  RunOpenError,
  InvalidResetPointError,
  StateTooLargeError,
  UnknownTriggerError,
  BadSignatureError,
  UnmappableInputError,
  InvalidScheduleError,
} from "../core/errors";
export type { ErrorCode } from "../core/errors";
export type { HistoryEvent, EventBody, EventType } from "../schemas/types";
