-- The parent of a child run, as ../0009_children_parent.sql.
ALTER TABLE weft_runs ADD COLUMN parent_workflow_id text;

CREATE INDEX weft_runs_by_parent ON weft_runs (parent_workflow_id)
  WHERE parent_workflow_id IS NOT NULL;
