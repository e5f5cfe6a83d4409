-- Registration: what decider and worker processes host (from <prefix>.registrations), and runs
-- whose start command is accepted but not applied yet (StartWorkflow from <prefix>.commands).
--
-- Times come from the records (a beat's `at`, a command's `sentAt`), never from now(), so
-- `weft replay projections` rebuilds the same rows from what the topics hold.

-- 'pending': a StartWorkflow command was seen and its WorkflowStarted not yet. The pending row
-- is inserted only if the run has no row; WorkflowStarted overwrites a pending row whole, so
-- the two give the same row in either order.
ALTER TABLE weft_runs DROP CONSTRAINT weft_runs_status_check;
ALTER TABLE weft_runs ADD CONSTRAINT weft_runs_status_check
  CHECK (status IN ('pending', 'running', 'blocked', 'completed', 'failed', 'cancelled'));

-- Every version (hash) of a workflow or step type any process registered.
CREATE TABLE weft_definitions (
  kind        text        NOT NULL CHECK (kind IN ('workflow', 'step')),
  name        text        NOT NULL,
  -- sha256 (first 16 hex) of the definition's code and options.
  hash        text        NOT NULL,
  -- Steps: their queue; workflows: the default queue of their steps, if they set one.
  task_queue  text,
  -- The declared retry policy; NULL when the definition declares none (the defaults apply).
  retry       jsonb,
  -- Steps: their timeoutMs; workflows: their stepTimeoutMs.
  timeout_ms  bigint,
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  PRIMARY KEY (kind, name, hash)
);

-- One row per decider and/or worker process, as its latest registration says.
CREATE TABLE weft_processes (
  process_id  text        PRIMARY KEY,
  roles       text[]      NOT NULL,
  host        text        NOT NULL,
  pid         integer     NOT NULL,
  queues      text[]      NOT NULL,
  -- Names of the workflows and steps it hosts.
  workflows   text[]      NOT NULL,
  steps       text[]      NOT NULL,
  -- 'workflow/<name>/<hash>' and 'step/<name>/<hash>': the versions it hosts.
  definitions text[]      NOT NULL,
  in_flight   integer     NOT NULL,
  concurrency integer,
  -- How often it beats: it counts as alive for three intervals after its last beat.
  interval_ms integer     NOT NULL,
  started_at  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  -- Set by its goodbye on a graceful stop; cleared if the same ID registers again.
  stopped_at  timestamptz
);
CREATE INDEX weft_processes_workflows ON weft_processes USING gin (workflows);
