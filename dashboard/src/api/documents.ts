/** Every query, mutation and subscription the dashboard sends. */

/** Rows on a page of the runs list. */
export const RUNS_PAGE_SIZE = 50;

const RUN_ROW = "id type status startedAt closedAt updatedAt lastSeq";

export const WORKFLOWS = `query Runs($filter: WorkflowFilter, $first: Int, $after: String) {
  workflows(filter: $filter, first: $first, after: $after) {
    nodes { ${RUN_ROW} }
    pageInfo { endCursor hasNextPage }
  }
}`;

export const WORKFLOW_UPDATED = `subscription RunUpdated($filter: WorkflowFilter) {
  workflowUpdated(filter: $filter) { ${RUN_ROW} }
}`;

const RUN_STATE = `${RUN_ROW}
    input result error state idempotencyKey blockedCode blockedReason waitingOn
    parentId children(first: 100) { id type status }
    steps { stepSeq attempt stepName taskQueue status workerId timeoutMs scheduledAt startedAt finishedAt durationMs error result logs { level message fields at } logsDropped }
    timers { kind seq attempt dueAt firedAt status }
    signals { seq name payload requestId receivedAt waitSeq }`;

/** A run's first paint: its state and its history so far. */
export const WORKFLOW = `query Run($id: String!) {
  workflow(id: $id) {
    ${RUN_STATE}
    events { seq type at body }
  }
}`;

/** A run's state again after a live change; its new events come by subscription. */
export const WORKFLOW_STATE = `query RunState($id: String!) {
  workflow(id: $id) {
    ${RUN_STATE}
  }
}`;

/** Asked only of a pending run: whether any live decider hosts its type. */
export const WAITING_FOR_DECIDER = `query WaitingForDecider($id: String!) {
  workflow(id: $id) { waitingForDecider }
}`;

export const WORKFLOW_EVENTS = `subscription RunEvents($workflowId: String!, $afterSeq: Int) {
  workflowEvents(workflowId: $workflowId, afterSeq: $afterSeq) { seq type at body }
}`;

const STATS_FIELDS = `counts { status count }
  throughput { minute started completed failed }
  backlog { queue backlog }
  commandBacklog projectorLag pendingTimers at`;

export const STATS = `query Stats { stats { ${STATS_FIELDS} } }`;
export const STATS_LIVE = `subscription StatsLive { stats { ${STATS_FIELDS} } }`;
/** The read models changed: pages without a subscription of their own refresh on this. */
export const STATS_TICK = `subscription StatsTick { stats { at } }`;

export const FAILED_STEPS = `query FailedSteps($first: Int, $workflowType: String) {
  failedSteps(first: $first, workflowType: $workflowType) {
    workflowId workflowType stepSeq attempt stepName taskQueue status workerId error startedAt finishedAt
  }
}`;

export const PENDING_TIMERS = `query PendingTimers($first: Int) {
  pendingTimers(first: $first) { workflowId workflowType kind seq attempt dueAt }
}`;

const WORKER_FIELDS =
  "id roles host pid queues workflows steps inFlight concurrency startedAt lastSeenAt stoppedAt status";

export const WORKERS = `query Workers($includeStopped: Boolean) {
  workers(includeStopped: $includeStopped) { ${WORKER_FIELDS} }
}`;

export const WORKERS_LIVE = `subscription WorkersLive($includeStopped: Boolean) {
  workers(includeStopped: $includeStopped) { ${WORKER_FIELDS} }
}`;

const PROJECTOR_FIELDS = `id host pid state partitions stallAfterMs reportedAt
    stalled { topic partition offset since failures fault code error }
    deadLetters { total recent recentMinutes last { topic partition offset reason kind at } }`;

export const PROJECTORS = `query Projectors { projectors { ${PROJECTOR_FIELDS} } }`;
export const PROJECTORS_LIVE = `subscription ProjectorsLive { projectors { ${PROJECTOR_FIELDS} } }`;

export const DEFINITIONS = `query Definitions {
  definitions { kind name hash taskQueue retry timeoutMs firstSeenAt lastSeenAt hosts openRuns }
  triggers { name kind source format action workflowType signal workflowId accepted refused }
}`;

export const WORKFLOW_TYPES = `query WorkflowTypes { definitions(kind: WORKFLOW) { name } }`;

export const START_WORKFLOW = `mutation Start($type: String!, $workflowId: String, $input: JSON) {
  startWorkflow(type: $type, workflowId: $workflowId, input: $input) { workflowId }
}`;

export const SIGNAL_WORKFLOW = `mutation Signal($workflowId: String!, $name: String!, $payload: JSON) {
  signalWorkflow(workflowId: $workflowId, name: $name, payload: $payload) { accepted }
}`;

export const CANCEL_WORKFLOW = `mutation Cancel($workflowId: String!, $reason: String) {
  cancelWorkflow(workflowId: $workflowId, reason: $reason) { accepted }
}`;

export const TERMINATE_WORKFLOW = `mutation Terminate($workflowId: String!, $reason: String) {
  terminateWorkflow(workflowId: $workflowId, reason: $reason) { accepted }
}`;

export const RERUN_WORKFLOW = `mutation Rerun($workflowId: String!) {
  rerunWorkflow(workflowId: $workflowId) { workflowId reusedSteps }
}`;

export const RESET_WORKFLOW = `mutation Reset($workflowId: String!, $toStepSeq: Int!) {
  resetWorkflow(workflowId: $workflowId, toStepSeq: $toStepSeq) { workflowId reusedSteps }
}`;
