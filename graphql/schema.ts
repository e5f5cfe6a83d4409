/** The API's GraphQL schema. Times are ISO-8601 strings; JSON carries inputs, results, errors. */
export const schema = /* GraphQL */ `
  scalar JSON

  enum WorkflowStatus {
    RUNNING
    BLOCKED
    COMPLETED
    FAILED
    CANCELLED
  }

  type StartResult {
    workflowId: String!
  }

  type AcceptedResult {
    workflowId: String!
    accepted: Boolean!
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
    waitingOn: JSON!
    startedAt: String!
    closedAt: String
    lastSeq: Int!
    updatedAt: String!
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

  type Query {
    workflow(id: String!): Workflow
    "Newest first."
    workflows(filter: WorkflowFilter, first: Int = 20, after: String): WorkflowConnection!
  }

  type Mutation {
    startWorkflow(
      type: String!
      workflowId: String
      input: JSON
      idempotencyKey: String
    ): StartResult!
    signalWorkflow(workflowId: String!, name: String!, payload: JSON): AcceptedResult!
    cancelWorkflow(workflowId: String!, reason: String): AcceptedResult!
  }
`;
