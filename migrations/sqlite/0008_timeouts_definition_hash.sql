-- The version a run started under, as ../0008_timeouts_definition_hash.sql.
ALTER TABLE weft_runs ADD COLUMN definition_hash text;

CREATE INDEX weft_runs_open_by_version ON weft_runs (workflow_type, definition_hash)
  WHERE status IN ('running', 'blocked');
