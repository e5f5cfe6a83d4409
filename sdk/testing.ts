/**
 * Weft's test kit (`weft/testing`): run workflows in a test with no servers and with virtual
 * time, and check recorded histories against changed workflow code.
 */
export { createTestEnvironment, TestEnvironment } from "../testing/environment";
export type {
  StartRunOptions,
  StepAttemptLogs,
  StepLogLineView,
  StepReplacement,
  TestEnvironmentOptions,
} from "../testing/environment";
export { VirtualClock } from "../testing/virtual-clock";
export type { Clock, ClockTimer } from "../core/clock";
export { assertReplays, checkReplay, ReplayDivergenceError } from "../workflow/replay-check";
export { historyFileText, readHistoryFile } from "../testing/history-file";
export type { CallSite } from "../workflow/call-sites";
export type {
  RecordedHistory,
  ReplayDivergence,
  ReplayDivergenceKind,
  ReplayOptions,
  ReplayReport,
} from "../workflow/replay-check";
