-- Step logs (step.log.* in a step): one row per attempt that logged, projected from
-- <prefix>.step-logs, not from history, so a row may arrive before or after its attempt's row
-- in weft_step_attempts (readers join them by key). `lines` is the attempt's kept lines,
-- [{level, message, fields, at}], with a marker line last when `dropped` lines went past the
-- attempt's bound (100 lines, 64 KiB). An attempt run twice (a worker lost under it) keeps
-- the record that came last on the topic. Rebuilt by `weft replay projections` from what the
-- topic still holds (WEFT_STEP_LOG_RETENTION_MS).
CREATE TABLE weft_step_logs (
  workflow_id text        NOT NULL,
  step_seq    integer     NOT NULL,
  attempt     integer     NOT NULL,
  step_name   text        NOT NULL,
  worker_id   text        NOT NULL,
  at          timestamptz NOT NULL,
  lines       jsonb       NOT NULL,
  dropped     integer     NOT NULL,
  PRIMARY KEY (workflow_id, step_seq, attempt)
);
