/** The API's GraphQL schema. Times are ISO-8601 strings; JSON carries inputs, results, errors. */
export const schema = /* GraphQL */ `
  scalar JSON

  "PENDING: the start command is accepted (it waits in Kafka) and no decider has applied it yet."
  enum WorkflowStatus {
    PENDING
    RUNNING
    BLOCKED
    COMPLETED
    FAILED
    CANCELLED
  }

  "Whether a start makes a new run when its workflow ID names a closed run (an open run always takes it as a duplicate)."
  enum IdReusePolicy {
    "Never: the start is the closed run's duplicate (the default)."
    REJECT_DUPLICATE
    "Always: a new run under the ID, its history after the closed run's."
    ALLOW_AFTER_CLOSE
    "Only when the closed run failed or was cancelled."
    ALLOW_AFTER_FAILURE
  }

  type StartResult {
    workflowId: String!
    "The start's request ID: the run it made carries it in its WorkflowStarted event."
    requestId: String!
    "True when no live decider hosts the type right now: the command waits durably in Kafka."
    waitingForDecider: Boolean!
  }

  type AcceptedResult {
    workflowId: String!
    accepted: Boolean!
    "The request ID the command carries (the caller's, or a new one): retry with it, and the run records the signal or cancel once."
    requestId: String!
  }

  "A line a step logged (step.log.info(…)) in one attempt; kept out of history."
  type StepLogLine {
    "debug, info, warn or error"
    level: String!
    message: String!
    "The line's fields (an object), or null."
    fields: JSON
    "When the worker logged it (ISO-8601, the worker's clock)."
    at: String!
  }

  type StepAttempt {
    stepSeq: Int!
    attempt: Int!
    stepName: String!
    taskQueue: String!
    status: String!
    workerId: String
    timeoutMs: Int
    scheduledAt: String!
    startedAt: String
    finishedAt: String
    durationMs: Float
    error: JSON
    result: JSON
    "What the attempt logged, in order; once it logged past its bound (100 lines, 64 KiB), a last line says how many were dropped. Empty until the worker's record is projected."
    logs: [StepLogLine!]!
    "Lines the attempt logged past its bound."
    logsDropped: Int!
  }

  type Timer {
    kind: String!
    seq: Int!
    attempt: Int!
    dueAt: String!
    firedAt: String
    status: String!
  }

  type Signal {
    seq: Int!
    name: String!
    payload: JSON
    requestId: String
    receivedAt: String!
    waitSeq: Int
  }

  type HistoryEvent {
    seq: Int!
    type: String!
    at: String!
    body: JSON!
  }

  type Workflow {
    id: String!
    type: String!
    status: WorkflowStatus!
    input: JSON
    result: JSON
    error: JSON
    idempotencyKey: String
    blockedCode: String
    blockedReason: String
    """
    What the open run waits on: items whose kind is step (an attempt scheduled or running), retry,
    timer, signal, or child (childSeq, childWorkflowId, workflowType: a child run it awaits).
    """
    waitingOn: JSON!
    startedAt: String!
    closedAt: String
    lastSeq: Int!
    updatedAt: String!
    "1 for the workflow ID's first run; one more for each run continued as new (ctx.continueAsNew)."
    runNumber: Int!
    "The seq of the current run's WorkflowStarted: events below it are earlier runs'."
    runStartSeq: Int!
    "PENDING and no live decider hosts its type: it starts when one comes back."
    waitingForDecider: Boolean!
    "The hash (see Definition.hash) of the workflow definition the current run started under; null for runs started before Weft recorded it."
    definitionHash: String
    "The run that started this one as its child (ctx.child / ctx.startChild); null for a run no parent started, or whose parent's row is not there."
    parent: Workflow
    "The ID of the run that started this one as its child, even when that run's row is not there; null otherwise."
    parentId: String
    "The runs this one started as its children, oldest first (at most first, up to 500)."
    children(first: Int = 100): [Workflow!]!
    "What the current run last published with ctx.setState (any JSON, at most 64 KiB); null when it set none. workflowUpdated pushes the row each time it changes."
    state: JSON
    steps: [StepAttempt!]!
    timers: [Timer!]!
    signals: [Signal!]!
    events: [HistoryEvent!]!
  }

  input WorkflowFilter {
    status: WorkflowStatus
    type: String
    "Runs started at or after this time (ISO-8601)."
    from: String
    "Runs started before this time (ISO-8601)."
    to: String
    "A substring of the workflow ID or type."
    text: String
  }

  type PageInfo {
    endCursor: String
    hasNextPage: Boolean!
  }

  type WorkflowConnection {
    nodes: [Workflow!]!
    pageInfo: PageInfo!
  }

  type FailedStep {
    workflowId: String!
    workflowType: String!
    stepSeq: Int!
    attempt: Int!
    stepName: String!
    taskQueue: String!
    "failed or timed_out"
    status: String!
    workerId: String
    error: JSON
    startedAt: String
    finishedAt: String!
  }

  type PendingTimer {
    workflowId: String!
    workflowType: String!
    "sleep, signal_timeout, retry or step_timeout"
    kind: String!
    seq: Int!
    attempt: Int!
    dueAt: String!
  }

  enum ProcessStatus {
    "Seen within the last three registration intervals."
    ALIVE
    "Not seen for three registration intervals: crashed or cut off."
    STALE
    "Said goodbye on a graceful stop."
    STOPPED
  }

  "A Weft process hosting deciders and/or workers, as it registered itself."
  type WorkerProcess {
    id: String!
    "decider, worker"
    roles: [String!]!
    host: String!
    pid: Int!
    "Task queues it consumes (workers)."
    queues: [String!]!
    "Workflow types it hosts (deciders)."
    workflows: [String!]!
    "Step names it hosts (workers)."
    steps: [String!]!
    inFlight: Int!
    concurrency: Int
    startedAt: String!
    lastSeenAt: String!
    stoppedAt: String
    status: ProcessStatus!
  }

  enum DefinitionKind {
    WORKFLOW
    STEP
  }

  "A workflow or step type as a process registered it; one row per version (hash)."
  type Definition {
    kind: DefinitionKind!
    name: String!
    "A hash of the definition: its code and its options."
    hash: String!
    "Steps: the queue their tasks go to."
    taskQueue: String
    retry: JSON
    timeoutMs: Int
    firstSeenAt: String!
    lastSeenAt: String!
    "Processes that host this version and are alive now."
    hosts: [String!]!
    "Workflows: runs open now (running or blocked) that started under this version (runs started before Weft recorded versions are in no version's count). Null for steps."
    openRuns: Int
  }

  type StatusCount {
    status: WorkflowStatus!
    count: Int!
  }

  type ThroughputPoint {
    "The minute's start (ISO-8601)."
    minute: String!
    started: Int!
    completed: Int!
    failed: Int!
  }

  type QueueBacklog {
    queue: String!
    "Tasks in the queue's topic its workers have not consumed yet (consumer lag)."
    backlog: Int!
  }

  type Stats {
    counts: [StatusCount!]!
    "Per minute, the last 15 minutes, oldest first."
    throughput: [ThroughputPoint!]!
    backlog: [QueueBacklog!]!
    "Commands the deciders have not consumed yet."
    commandBacklog: Int!
    "History events the projector has not stored yet."
    projectorLag: Int!
    pendingTimers: Int!
    at: String!
  }

  enum ProjectorState {
    "Every partition it holds applies its records."
    READY
    "A partition cannot write to the database, or has got no batch through for WEFT_PROJECTOR_STALL_MS."
    STALLED
    "No report for three intervals (6 s): the projector stopped, hangs, or cannot reach Redis."
    SILENT
  }

  "A partition the projector is stalled on."
  type ProjectorProblem {
    topic: String!
    partition: Int!
    "The next offset it has to apply, when known."
    offset: String
    since: String!
    failures: Int!
    "unavailable, not_writable, corrupt, kafka, other, or hung (a batch that does not finish)"
    fault: String!
    "DATABASE_NOT_WRITABLE or DATABASE_CORRUPT when the database is at fault."
    code: String
    "The partition, for how long, and the last error (naming the database)."
    error: String!
  }

  "The last record the projector sent to the DLQ (weft.dlq) and carried on past."
  type ProjectorDeadLetter {
    topic: String!
    partition: Int!
    offset: String!
    reason: String!
    "undecodable or unprojectable"
    kind: String!
    at: String!
  }

  type ProjectorDeadLetters {
    "Since the projector started."
    total: Int!
    "Within the last recentMinutes."
    recent: Int!
    recentMinutes: Int!
    last: ProjectorDeadLetter
  }

  "A projector process, as it last reported itself (every 2 s, through the live-update channel)."
  type ProjectorStatus {
    id: String!
    host: String!
    pid: Int!
    state: ProjectorState!
    "Partitions it holds, of every topic it reads."
    partitions: Int!
    stallAfterMs: Int!
    stalled: [ProjectorProblem!]!
    deadLetters: ProjectorDeadLetters!
    "When it sent its last report."
    reportedAt: String!
  }

  type Query {
    workflow(id: String!): Workflow
    "Newest first."
    workflows(filter: WorkflowFilter, first: Int = 20, after: String): WorkflowConnection!
    "The latest failed or timed-out step attempts across runs, newest first."
    failedSteps(first: Int = 50, workflowType: String): [FailedStep!]!
    "Pending timers, soonest first."
    pendingTimers(first: Int = 100): [PendingTimer!]!
    "Processes that registered; stopped ones only when asked."
    workers(includeStopped: Boolean = false): [WorkerProcess!]!
    definitions(kind: DefinitionKind): [Definition!]!
    stats: Stats!
    "Projectors heard from in the last ten minutes: ready or stalled, and their dead letters."
    projectors: [ProjectorStatus!]!
  }

  type Mutation {
    """
    executionTimeoutMs: the run fails with WORKFLOW_TIMEOUT if still open this long after its start,
    over the workflow's own executionTimeoutMs; a positive whole number of milliseconds
    (INVALID_INPUT otherwise).
    """
    startWorkflow(
      type: String!
      workflowId: String
      input: JSON
      idempotencyKey: String
      idReusePolicy: IdReusePolicy
      executionTimeoutMs: Float
    ): StartResult!
    """
    requestId names this request (a new one when absent): a retry with the same ID is recorded once.
    Errors: NOT_FOUND when no start with this workflow ID was acknowledged, RUN_CLOSED when the run
    completed, failed or was cancelled (unless it recorded this very request ID).
    """
    signalWorkflow(
      workflowId: String!
      name: String!
      payload: JSON
      requestId: String
    ): AcceptedResult!
    """
    Starts a run of the type under workflowId unless one is open there, and delivers the signal to
    it, in one command: a run it starts records the signal right after its start; an open run records
    it as any signal (once per requestId). A closed run's ID starts a new run only as idReusePolicy
    allows; otherwise the decider drops the command. UNKNOWN_WORKFLOW_TYPE as for startWorkflow.
    executionTimeoutMs as for startWorkflow: it applies to a run this starts.
    """
    signalWithStart(
      type: String!
      workflowId: String!
      name: String!
      payload: JSON
      input: JSON
      idReusePolicy: IdReusePolicy
      requestId: String
      executionTimeoutMs: Float
    ): StartResult!
    "As signalWorkflow: a retry with the same requestId is recorded once; NOT_FOUND, RUN_CLOSED."
    cancelWorkflow(workflowId: String!, reason: String, requestId: String): AcceptedResult!
  }

  type Subscription {
    "A run's row after every change the projector stores; all runs when no filter is given."
    workflowUpdated(filter: WorkflowFilter): Workflow!
    """
    A run's history events as the projector stores them. With afterSeq, the stored events after
    it come first, then the live ones: no gap, no repeat.
    """
    workflowEvents(workflowId: String!, afterSeq: Int): HistoryEvent!
    "Stats again whenever the read models change, at most once a second."
    stats: Stats!
    "The process list again whenever a process registers, beats, stops or turns stale."
    workers(includeStopped: Boolean = false): [WorkerProcess!]!
    "The projectors again whenever one reports (every 2 s) or turns silent."
    projectors: [ProjectorStatus!]!
  }
`;
