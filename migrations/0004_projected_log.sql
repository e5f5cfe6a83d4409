-- Which log the read models were built from: in embedded mode, the ID the embedded log writes
-- in its first frame. At most one row. With weft_projector_offsets (how far) it lets a start
-- find read models built from another log, or ahead of theirs, and rebuild them rather than
-- serve them. Like the offsets, it is bookkeeping, not a read model.
CREATE TABLE weft_projected_log (
  log_id text PRIMARY KEY
);
