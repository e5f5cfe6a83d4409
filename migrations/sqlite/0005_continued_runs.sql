-- A workflow ID's runs share one row, as ../0005_continued_runs.sql.
ALTER TABLE weft_runs ADD COLUMN run_number integer NOT NULL DEFAULT 1;
ALTER TABLE weft_runs ADD COLUMN run_start_seq integer NOT NULL DEFAULT 1;
