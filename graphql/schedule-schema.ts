/**
 * The schedules' part of the GraphQL schema (docs/schedules.md), appended to ./schema. A
 * schedule is the run `schedule:<name>` of the built-in workflow `weft.schedule`; what these
 * fields show is the state that run publishes, as the read models keep it.
 */
export const scheduleSchema = /* GraphQL */ `
  enum OverlapPolicy {
    SKIP
    BUFFER
    ALLOW
  }

  "When a schedule ticks: cron (UTC; 5 fields, or 6 with seconds first) or everyMs (from offsetMs past the epoch)."
  input ScheduleSpecInput {
    cron: String
    everyMs: Int
    offsetMs: Int
  }

  type ScheduleRecentRun {
    tick: String!
    workflowId: String!
  }

  type Schedule {
    name: String!
    "The schedule's own run: schedule:<name>."
    workflowId: String!
    "Its run's status: RUNNING while it schedules, COMPLETED once deleted."
    status: WorkflowStatus!
    "{ cron } or { everyMs, offsetMs }."
    spec: JSON
    workflowType: String
    input: JSON
    overlap: OverlapPolicy
    catchupWindowMs: Int
    paused: Boolean!
    note: String
    "Up to five coming ticks, ISO-8601 (empty while paused)."
    nextTicks: [String!]!
    "Every tick up to this time was handled."
    handledUntil: String
    runsStarted: Int!
    "Ticks not started because a run was open (overlap SKIP, or past the one BUFFER keeps)."
    ticksSkipped: Int!
    "Ticks older than the catch-up window when the schedule woke up: never started."
    ticksMissed: Int!
    buffered: String
    "The latest runs it started, oldest first (at most 10)."
    recentRuns: [ScheduleRecentRun!]!
    lastError: String
    createdAt: String!
  }

  type ScheduleResult {
    name: String!
    workflowId: String!
  }

  extend type Query {
    "A schedule by name, deleted ones included (status COMPLETED)."
    schedule(name: String!): Schedule
    "Schedules that run now (not deleted), newest first."
    schedules(first: Int = 50): [Schedule!]!
  }

  extend type Mutation {
    """
    Makes a schedule (INVALID_SCHEDULE for a bad definition). A schedule of that name that runs
    already is left as it is (use updateSchedule); a deleted one's name may be used again.
    """
    createSchedule(
      name: String!
      spec: ScheduleSpecInput!
      workflowType: String!
      input: JSON
      overlap: OverlapPolicy = SKIP
      catchupWindowMs: Int
      paused: Boolean = false
      note: String
    ): ScheduleResult!
    "No tick starts a run until resumeSchedule; the ticks that pass meanwhile are not caught up."
    pauseSchedule(name: String!): ScheduleResult!
    resumeSchedule(name: String!): ScheduleResult!
    "Changes what is given; a new spec ticks from now on."
    updateSchedule(
      name: String!
      spec: ScheduleSpecInput
      workflowType: String
      input: JSON
      overlap: OverlapPolicy
      catchupWindowMs: Int
      note: String
    ): ScheduleResult!
    "Ends the schedule (the runs it started go on)."
    deleteSchedule(name: String!): ScheduleResult!
  }
`;
