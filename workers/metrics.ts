import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from "prom-client";
import { deadLetterCounter } from "../core/metrics";

/** What became of an attempt this worker started. */
export type AttemptOutcome = "completed" | "failed" | "abandoned";

/** Seconds: from a few ms (a warm queue) to minutes (a backlog or a long step). */
// Fine at the low end too: on loopback a task reaches its worker within milliseconds.
const BUCKETS = [
  0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  60, 300, 900,
];

/**
 * Worker metrics, in the registry given (the process's) or one of the worker's own: no
 * process-wide singletons. `weft_dlq_records_total` is shared with a decider of the same
 * registry.
 */
export function createWorkerMetrics(registry: MetricsRegistry = new MetricsRegistry()) {
  return {
    registry,
    scheduleToStart: new Histogram({
      name: "weft_step_schedule_to_start_seconds",
      help: "From the decider writing a step's task to a worker starting the attempt, by queue and step",
      labelNames: ["queue", "step"],
      buckets: BUCKETS,
      registers: [registry],
    }),
    startToClose: new Histogram({
      name: "weft_step_start_to_close_seconds",
      help: "From a worker starting an attempt to its end, by queue, step and outcome",
      labelNames: ["queue", "step", "outcome"],
      buckets: BUCKETS,
      registers: [registry],
    }),
    attempts: new Counter({
      name: "weft_step_attempts_total",
      help: "Step attempts run by workers, by queue, step and outcome",
      labelNames: ["queue", "step", "outcome"],
      registers: [registry],
    }),
    localTasks: new Counter({
      name: "weft_step_tasks_local_total",
      help: "Step tasks the decider in this process handed to this worker as it committed them, by queue",
      labelNames: ["queue"],
      registers: [registry],
    }),
    quietPartitions: new Gauge({
      name: "weft_worker_quiet_task_partitions",
      help: "Task partitions whose every task the decider in this process hands to this worker, read in catch-ups rather than fetched as they come, by queue",
      labelNames: ["queue"],
      registers: [registry],
    }),
    deadLetters: deadLetterCounter(registry),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
