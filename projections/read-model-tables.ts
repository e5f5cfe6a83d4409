/**
 * Every table the projector derives (from history, registrations, start commands and step
 * logs), with its primary key (for ordered dumps). `replay projections` empties them all.
 */
export const READ_MODEL_TABLES = [
  { name: "weft_runs", key: ["workflow_id"] },
  { name: "weft_events", key: ["workflow_id", "seq"] },
  { name: "weft_step_attempts", key: ["workflow_id", "step_seq", "attempt"] },
  { name: "weft_timers", key: ["workflow_id", "kind", "seq", "attempt"] },
  { name: "weft_signals", key: ["workflow_id", "seq"] },
  { name: "weft_definitions", key: ["kind", "name", "hash"] },
  { name: "weft_processes", key: ["process_id"] },
  { name: "weft_step_logs", key: ["workflow_id", "step_seq", "attempt"] },
] as const;

export const OFFSETS_TABLE = "weft_projector_offsets";
