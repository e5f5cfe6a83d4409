import { Counter, Gauge, Registry } from "prom-client";
import { deadLetterCounter } from "../core/metrics";
import { DEAD_LETTER_KINDS, PROJECTED_SOURCES } from "./project-batch";
import { PROJECTOR_FAULTS, type ProjectorHealth } from "./projector-health";

/**
 * The projector's metrics. Labels are bounded: `source` is one of the three topics it reads
 * (history, registrations, commands), `reason` and `kind` come from closed lists, and
 * `topic`/`partition` name only the partitions assigned to this projector now (read from its
 * health on every scrape, so a revoked partition's series go away).
 */
export function createProjectorMetrics(
  health: ProjectorHealth,
  registry: Registry = new Registry(),
) {
  const partitionGauge = (
    name: string,
    help: string,
    value: (f: ReturnType<ProjectorHealth["figures"]>[number]) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["topic", "partition"],
      registers: [registry],
      collect() {
        this.reset();
        for (const figures of health.figures()) {
          const v = value(figures);
          if (v !== undefined)
            this.set({ topic: figures.topic, partition: String(figures.partition) }, v);
        }
      },
    });
  const deadLetters = new Counter({
    name: "weft_projector_dead_letters_total",
    help: "Records the projector sent to the DLQ and carried on past, by source topic and reason (undecodable, unprojectable)",
    labelNames: ["source", "reason"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "weft_projector_errors_total",
    help: "Projector batches that failed and are tried again, by source topic and kind (unavailable, not_writable, corrupt, kafka, other)",
    labelNames: ["source", "kind"],
    registers: [registry],
  });
  // Every series from the start, at 0, so that a rate or an alert sees the first one.
  for (const source of PROJECTED_SOURCES) {
    for (const reason of DEAD_LETTER_KINDS) deadLetters.inc({ source, reason }, 0);
    for (const kind of PROJECTOR_FAULTS) errors.inc({ source, kind }, 0);
  }
  return {
    /** Also counted in the process's weft_dlq_records_total, beside deciders and workers. */
    dlqRecords: deadLetterCounter(registry),
    deadLetters,
    errors,
    stalled: partitionGauge(
      "weft_projector_stalled",
      "1 for an assigned partition the projector is stalled on (cannot write its database, or no batch through for WEFT_PROJECTOR_STALL_MS), else 0",
      (f) => (f.stalled ? 1 : 0),
    ),
    lastApplied: partitionGauge(
      "weft_projector_last_applied_timestamp_seconds",
      "When the projector last committed a batch of the partition (Unix seconds)",
      (f) => (f.lastAppliedAt === undefined ? undefined : f.lastAppliedAt / 1000),
    ),
    lag: partitionGauge(
      "weft_projector_lag_records",
      "Records of the partition after the projector's stored offset, as of its last batch",
      (f) => f.lag,
    ),
  };
}

export type ProjectorMetrics = ReturnType<typeof createProjectorMetrics>;
