-- Indexes for the API's reads at scale, as ../0002_read_side_indexes.sql.

CREATE INDEX weft_runs_by_closed ON weft_runs (closed_at) WHERE closed_at IS NOT NULL;

CREATE INDEX weft_runs_by_type_status ON weft_runs (workflow_type, status, started_at DESC, workflow_id);

-- No trigram index: SQLite has none outside FTS5. `workflows(filter: { text })` scans
-- weft_runs_by_started (0001), which holds both columns it matches (LIKE, case-insensitive for
-- ASCII).
