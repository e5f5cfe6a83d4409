-- Which log the read models were built from, as ../0004_projected_log.sql.
CREATE TABLE weft_projected_log (
  log_id text PRIMARY KEY
) STRICT;
