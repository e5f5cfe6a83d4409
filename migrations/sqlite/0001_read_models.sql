-- Read models of weft.history on SQLite (embedded mode): the tables and columns of
-- ../0001_read_models.sql, version for version (a test checks the names match).
--
-- Types: JSON (jsonb on PostgreSQL) is JSON text; times (timestamptz) are epoch milliseconds;
-- STRICT tables refuse a value of the wrong type instead of storing it. Every table is a pure
-- function of history (DESIGN.md, invariant 8); times come from the events, never the clock.
-- PostgreSQL reached the 'pending' status in 0003; SQLite has no installed base before it, so
-- the final CHECK is here.

-- One row per run.
CREATE TABLE weft_runs (
  workflow_id      text    PRIMARY KEY,
  workflow_type    text    NOT NULL,
  status           text    NOT NULL
                   CHECK (status IN ('pending', 'running', 'blocked', 'completed', 'failed', 'cancelled')),
  input            text,
  result           text,
  error            text,
  idempotency_key  text,
  blocked_code     text,
  blocked_reason   text,
  waiting_on       text    NOT NULL DEFAULT '[]',
  buffered_signals text    NOT NULL DEFAULT '[]',
  started_at       integer NOT NULL,
  closed_at        integer,
  last_seq         integer NOT NULL,
  updated_at       integer NOT NULL
) STRICT;
CREATE INDEX weft_runs_by_status ON weft_runs (status, started_at DESC, workflow_id);
CREATE INDEX weft_runs_by_type ON weft_runs (workflow_type, started_at DESC, workflow_id);
-- workflow_type too: a text filter (LIKE, no trigram index on SQLite) is checked on this index
-- alone, reading a run's row only when it matches (2-3x faster than scanning the rows).
CREATE INDEX weft_runs_by_started ON weft_runs (started_at DESC, workflow_id, workflow_type);

CREATE TABLE weft_events (
  workflow_id text    NOT NULL,
  seq         integer NOT NULL,
  type        text    NOT NULL,
  at          integer NOT NULL,
  body        text    NOT NULL,
  PRIMARY KEY (workflow_id, seq)
) STRICT;

CREATE TABLE weft_step_attempts (
  workflow_id  text    NOT NULL,
  step_seq     integer NOT NULL,
  attempt      integer NOT NULL,
  step_name    text    NOT NULL,
  task_queue   text    NOT NULL,
  status       text    NOT NULL
               CHECK (status IN ('scheduled', 'started', 'completed', 'failed', 'timed_out', 'cancelled')),
  worker_id    text,
  timeout_ms   integer,
  scheduled_at integer NOT NULL,
  started_at   integer,
  finished_at  integer,
  duration_ms  integer,
  error        text,
  result       text,
  PRIMARY KEY (workflow_id, step_seq, attempt)
) STRICT;
CREATE INDEX weft_step_attempts_failed ON weft_step_attempts (finished_at DESC)
  WHERE status IN ('failed', 'timed_out');

CREATE TABLE weft_timers (
  workflow_id text    NOT NULL,
  kind        text    NOT NULL CHECK (kind IN ('sleep', 'signal_timeout', 'retry', 'step_timeout')),
  seq         integer NOT NULL,
  attempt     integer NOT NULL,
  due_at      integer NOT NULL,
  fired_at    integer,
  status      text    NOT NULL CHECK (status IN ('pending', 'fired', 'cancelled')),
  PRIMARY KEY (workflow_id, kind, seq, attempt)
) STRICT;
CREATE INDEX weft_timers_pending ON weft_timers (due_at) WHERE status = 'pending';

CREATE TABLE weft_signals (
  workflow_id text    NOT NULL,
  seq         integer NOT NULL,
  name        text    NOT NULL,
  payload     text,
  request_id  text,
  received_at integer NOT NULL,
  wait_seq    integer,
  PRIMARY KEY (workflow_id, seq)
) STRICT;

-- The projector's position, written in the same transaction as the rows.
CREATE TABLE weft_projector_offsets (
  consumer_group text    NOT NULL,
  topic          text    NOT NULL,
  partition      integer NOT NULL,
  next_offset    integer NOT NULL,
  PRIMARY KEY (consumer_group, topic, partition)
) STRICT;
