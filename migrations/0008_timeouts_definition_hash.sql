-- The version of the workflow code a run started under: the registered hash of the definition
-- its decider started it with (WorkflowStarted.definitionHash, history v6). NULL for runs
-- started before v6 and for pending rows. `definitions { openRuns }` counts the open runs of
-- each version, so an operator knows when the last run of an old version has closed (when a
-- ctx.patched branch may go).
ALTER TABLE weft_runs ADD COLUMN definition_hash text;

CREATE INDEX weft_runs_open_by_version ON weft_runs (workflow_type, definition_hash)
  WHERE status IN ('running', 'blocked');
