-- The run that started a run as its child (ctx.child / ctx.startChild): WorkflowStarted.parent
-- (history v7), or the parent link of its start command while it is pending. NULL for runs no
-- parent started. GraphQL `Workflow.parent` reads it, `Workflow.children` looks it up by index.
ALTER TABLE weft_runs ADD COLUMN parent_workflow_id text;

CREATE INDEX weft_runs_by_parent ON weft_runs (parent_workflow_id)
  WHERE parent_workflow_id IS NOT NULL;
