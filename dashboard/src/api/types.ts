/** The shapes the dashboard reads from the GraphQL API (graphql/schema.ts). Times are ISO-8601. */

export const STATUSES = [
  "PENDING",
  "RUNNING",
  "BLOCKED",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
] as const;
export type WorkflowStatus = (typeof STATUSES)[number];

export interface RunRow {
  id: string;
  type: string;
  status: WorkflowStatus;
  startedAt: string;
  closedAt: string | null;
  updatedAt: string;
  lastSeq: number;
}

export interface StepAttempt {
  stepSeq: number;
  attempt: number;
  stepName: string;
  taskQueue: string;
  status: string;
  workerId: string | null;
  timeoutMs: number | null;
  scheduledAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: unknown;
  result: unknown;
  /** What the attempt logged (step.log.*); past the bound, a last line counts the dropped. */
  logs: StepLogLine[];
  logsDropped: number;
}

export interface StepLogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: unknown;
  at: string;
}

export interface Timer {
  kind: string;
  seq: number;
  attempt: number;
  dueAt: string;
  firedAt: string | null;
  status: string;
}

export interface Signal {
  seq: number;
  name: string;
  payload: unknown;
  requestId: string | null;
  receivedAt: string;
  waitSeq: number | null;
}

export interface HistoryEvent {
  seq: number;
  type: string;
  at: string;
  body: Record<string, unknown>;
}

/** One thing a run waits on now: the items projections/fold-events.ts writes to `waiting_on`. */
export type WaitItem =
  | {
      kind: "step";
      stepSeq: number;
      stepName: string;
      taskQueue: string;
      attempt: number;
      timeoutMs: number | null;
      state: "scheduled" | "started";
      since: string;
      startedAt?: string;
      workerId?: string;
    }
  | {
      kind: "retry";
      stepSeq: number;
      stepName: string;
      taskQueue: string;
      nextAttempt: number;
      since: string;
      dueAt: string | null;
    }
  | { kind: "timer"; timerSeq: number; since: string; dueAt: string }
  | { kind: "signal"; waitSeq: number; signalName: string; since: string; dueAt: string | null }
  | {
      kind: "child";
      childSeq: number;
      childWorkflowId: string;
      workflowType: string;
      since: string;
    };

export interface WorkflowDetail extends RunRow {
  input: unknown;
  result: unknown;
  error: unknown;
  /** What the run last published with ctx.setState; null when it set none. */
  state: unknown;
  idempotencyKey: string | null;
  /** The run that started this one as its child (ctx.child); null otherwise. */
  parentId: string | null;
  /** The runs this one started as its children, oldest first (the first 100). */
  children: { id: string; type: string; status: string }[];
  blockedCode: string | null;
  blockedReason: string | null;
  waitingOn: WaitItem[];
  steps: StepAttempt[];
  timers: Timer[];
  signals: Signal[];
  events: HistoryEvent[];
}

export interface FailedStep {
  workflowId: string;
  workflowType: string;
  stepSeq: number;
  attempt: number;
  stepName: string;
  taskQueue: string;
  status: string;
  workerId: string | null;
  error: unknown;
  startedAt: string | null;
  finishedAt: string;
}

export interface PendingTimer {
  workflowId: string;
  workflowType: string;
  kind: string;
  seq: number;
  attempt: number;
  dueAt: string;
}

export type ProcessStatus = "ALIVE" | "STALE" | "STOPPED";

export interface WorkerProcess {
  id: string;
  roles: string[];
  host: string;
  pid: number;
  queues: string[];
  workflows: string[];
  steps: string[];
  inFlight: number;
  concurrency: number | null;
  startedAt: string;
  lastSeenAt: string;
  stoppedAt: string | null;
  status: ProcessStatus;
}

/** READY, STALLED (a partition cannot write or gets nothing through), SILENT (no report). */
export type ProjectorState = "READY" | "STALLED" | "SILENT";

export interface ProjectorProblem {
  topic: string;
  partition: number;
  offset: string | null;
  since: string;
  failures: number;
  fault: string;
  code: string | null;
  error: string;
}

export interface ProjectorDeadLetter {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  kind: string;
  at: string;
}

export interface ProjectorStatus {
  id: string;
  host: string;
  pid: number;
  state: ProjectorState;
  partitions: number;
  stallAfterMs: number;
  stalled: ProjectorProblem[];
  deadLetters: {
    total: number;
    recent: number;
    recentMinutes: number;
    last: ProjectorDeadLetter | null;
  };
  reportedAt: string;
}

export interface Definition {
  kind: "WORKFLOW" | "STEP";
  name: string;
  hash: string;
  taskQueue: string | null;
  retry: unknown;
  timeoutMs: number | null;
  firstSeenAt: string;
  lastSeenAt: string;
  hosts: string[];
  /** Workflows: runs open now that started under this version; null for steps. */
  openRuns: number | null;
}

/** A trigger the API's process defines (docs/triggers.md). */
export interface Trigger {
  name: string;
  kind: "KAFKA" | "WEBHOOK";
  source: string;
  format: string | null;
  action: "START" | "SIGNAL" | "SIGNAL_WITH_START";
  workflowType: string | null;
  signal: string | null;
  workflowId: string;
  accepted: number;
  refused: number;
}

export interface Stats {
  counts: { status: WorkflowStatus; count: number }[];
  throughput: { minute: string; started: number; completed: number; failed: number }[];
  backlog: { queue: string; backlog: number }[];
  commandBacklog: number;
  projectorLag: number;
  pendingTimers: number;
  at: string;
}

export interface WorkflowFilter {
  status?: WorkflowStatus;
  type?: string;
  from?: string;
  to?: string;
  text?: string;
}
