-- Read models of weft.history (the CQRS read side).
--
-- Every table here is a pure function of history (DESIGN.md, invariant 8): the projector fills
-- them, and `weft replay projections` empties them and rebuilds the same rows from offset 0.
-- Times come from the events (`at`, `dueAt`), never from now(), so a replay is identical.
-- No foreign keys: the tables are rebuilt together, and checking them would only slow the writes.

-- One row per run.
CREATE TABLE weft_runs (
  workflow_id      text        PRIMARY KEY,
  workflow_type    text        NOT NULL,
  status           text        NOT NULL
                   CHECK (status IN ('running', 'blocked', 'completed', 'failed', 'cancelled')),
  input            jsonb,
  result           jsonb,
  -- WorkflowFailed: the error; WorkflowCancelled: {"code": "WORKFLOW_CANCELLED", "reason": ...}
  error            jsonb,
  idempotency_key  text,
  blocked_code     text,
  blocked_reason   text,
  -- What the run waits on now: a list of {"kind": "step" | "retry" | "timer" | "signal", ...}.
  -- Empty once the run is closed.
  waiting_on       jsonb       NOT NULL DEFAULT '[]',
  -- Signals received that no waitForSignal has taken yet: [{"seq": n, "name": "..."}].
  buffered_signals jsonb       NOT NULL DEFAULT '[]',
  started_at       timestamptz NOT NULL,
  closed_at        timestamptz,
  last_seq         integer     NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX weft_runs_by_status ON weft_runs (status, started_at DESC, workflow_id);
CREATE INDEX weft_runs_by_type ON weft_runs (workflow_type, started_at DESC, workflow_id);
CREATE INDEX weft_runs_by_started ON weft_runs (started_at DESC, workflow_id);

-- The full history of every run, one row per event; `body` is the event body as on the wire.
CREATE TABLE weft_events (
  workflow_id text        NOT NULL,
  seq         integer     NOT NULL,
  type        text        NOT NULL,
  at          timestamptz NOT NULL,
  body        jsonb       NOT NULL,
  PRIMARY KEY (workflow_id, seq)
);

-- One row per attempt of a step.
CREATE TABLE weft_step_attempts (
  workflow_id  text        NOT NULL,
  step_seq     integer     NOT NULL,
  attempt      integer     NOT NULL,
  step_name    text        NOT NULL,
  task_queue   text        NOT NULL,
  -- 'cancelled': the run closed while the attempt was scheduled or running.
  status       text        NOT NULL
               CHECK (status IN ('scheduled', 'started', 'completed', 'failed', 'timed_out', 'cancelled')),
  worker_id    text,
  timeout_ms   integer,
  scheduled_at timestamptz NOT NULL,
  started_at   timestamptz,
  finished_at  timestamptz,
  -- finished_at - started_at, when both are known.
  duration_ms  bigint,
  error        jsonb,
  result       jsonb,
  PRIMARY KEY (workflow_id, step_seq, attempt)
);
CREATE INDEX weft_step_attempts_failed ON weft_step_attempts (finished_at DESC)
  WHERE status IN ('failed', 'timed_out');

-- Durable timers: waits, signal timeouts, retry backoffs and step timeouts.
-- `seq` is the timer's, signal wait's or step's sequence number; `attempt` is 0 for waits and
-- signal timeouts, the attempt to start for retries, the attempt timed for step timeouts.
CREATE TABLE weft_timers (
  workflow_id text        NOT NULL,
  kind        text        NOT NULL CHECK (kind IN ('sleep', 'signal_timeout', 'retry', 'step_timeout')),
  seq         integer     NOT NULL,
  attempt     integer     NOT NULL,
  due_at      timestamptz NOT NULL,
  fired_at    timestamptz,
  status      text        NOT NULL CHECK (status IN ('pending', 'fired', 'cancelled')),
  PRIMARY KEY (workflow_id, kind, seq, attempt)
);
CREATE INDEX weft_timers_pending ON weft_timers (due_at) WHERE status = 'pending';

-- Signals received, with the waitForSignal that took each (NULL while buffered).
CREATE TABLE weft_signals (
  workflow_id text        NOT NULL,
  seq         integer     NOT NULL,
  name        text        NOT NULL,
  payload     jsonb,
  request_id  text,
  received_at timestamptz NOT NULL,
  wait_seq    integer,
  PRIMARY KEY (workflow_id, seq)
);

-- The projector's position in weft.history, written in the same transaction as the rows:
-- this, not the Kafka consumer group's committed offset, is where a projector resumes.
CREATE TABLE weft_projector_offsets (
  consumer_group text    NOT NULL,
  topic          text    NOT NULL,
  partition      integer NOT NULL,
  next_offset    bigint  NOT NULL,
  PRIMARY KEY (consumer_group, topic, partition)
);
