-- Run state: what the workflow code last published with ctx.setState (JSON, at most 64 KiB),
-- folded from the run's StateUpdated events. NULL while the current run has set none: a run
-- continued as new, or a new run under a reused ID, starts without one.
ALTER TABLE weft_runs ADD COLUMN state jsonb;
