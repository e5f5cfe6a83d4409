-- Run state, as ../0007_run_state.sql: JSON text.
ALTER TABLE weft_runs ADD COLUMN state text;
