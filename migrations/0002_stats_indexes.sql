-- The overview's throughput per minute counts runs by the minute they closed.
CREATE INDEX weft_runs_by_closed ON weft_runs (closed_at) WHERE closed_at IS NOT NULL;
