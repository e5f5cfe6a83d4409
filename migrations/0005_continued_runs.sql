-- A workflow ID's runs share one row and one history: a run that continues as new
-- (ctx.continueAsNew) hands the row to the next run, which starts at the next seq.
-- run_number counts the runs (1 for the first); run_start_seq is the current run's
-- WorkflowStarted, so events below it are earlier runs'.
ALTER TABLE weft_runs ADD COLUMN run_number integer NOT NULL DEFAULT 1;
ALTER TABLE weft_runs ADD COLUMN run_start_seq integer NOT NULL DEFAULT 1;
