-- Registration, as ../0003_registration.sql: what decider and worker processes host, and
-- (from 0001 on SQLite) pending runs. Arrays (text[] on PostgreSQL) are JSON arrays of text.

CREATE TABLE weft_definitions (
  kind        text    NOT NULL CHECK (kind IN ('workflow', 'step')),
  name        text    NOT NULL,
  hash        text    NOT NULL,
  task_queue  text,
  retry       text,
  timeout_ms  integer,
  first_seen  integer NOT NULL,
  last_seen   integer NOT NULL,
  PRIMARY KEY (kind, name, hash)
) STRICT;

CREATE TABLE weft_processes (
  process_id  text    PRIMARY KEY,
  roles       text    NOT NULL,
  host        text    NOT NULL,
  pid         integer NOT NULL,
  queues      text    NOT NULL,
  workflows   text    NOT NULL,
  steps       text    NOT NULL,
  definitions text    NOT NULL,
  in_flight   integer NOT NULL,
  concurrency integer,
  interval_ms integer NOT NULL,
  started_at  integer NOT NULL,
  last_seen   integer NOT NULL,
  stopped_at  integer
) STRICT;
