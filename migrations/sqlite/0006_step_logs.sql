-- Step logs, as ../0006_step_logs.sql: lines is JSON text, at epoch milliseconds.
CREATE TABLE weft_step_logs (
  workflow_id text    NOT NULL,
  step_seq    integer NOT NULL,
  attempt     integer NOT NULL,
  step_name   text    NOT NULL,
  worker_id   text    NOT NULL,
  at          integer NOT NULL,
  lines       text    NOT NULL,
  dropped     integer NOT NULL,
  PRIMARY KEY (workflow_id, step_seq, attempt)
) STRICT;
