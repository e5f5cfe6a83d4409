-- Indexes for the API's reads at scale (100,000+ runs).

-- The overview's throughput per minute counts runs by the minute they closed.
CREATE INDEX weft_runs_by_closed ON weft_runs (closed_at) WHERE closed_at IS NOT NULL;

-- Type and status together (e.g. the failed runs of one type), newest first.
CREATE INDEX weft_runs_by_type_status ON weft_runs (workflow_type, status, started_at DESC, workflow_id);

-- `workflows(filter: { text })` finds a substring of the ID or type: trigrams make a selective
-- text a bitmap scan instead of a walk over every run. pg_trgm ships with PostgreSQL and is a
-- trusted extension (no superuser needed); it lives in `public`, shared by every schema.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX weft_runs_by_text ON weft_runs
  USING gin (workflow_id public.gin_trgm_ops, workflow_type public.gin_trgm_ops);
