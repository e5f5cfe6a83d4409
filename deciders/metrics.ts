import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from "prom-client";
import { deadLetterCounter } from "../core/metrics";

/** What the gauges read when scraped, so they are never stale. */
export interface DeciderGaugeSources {
  openRuns(): number;
  pendingTimers(): number;
  /** Per owned partition, seconds without state (0 when ready); empty when none is owned. */
  notReadySeconds?(): ReadonlyMap<number, number>;
}

/** Fine at the low end: a hop on loopback takes a few milliseconds. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
  0.25, 0.5, 1, 2.5, 5,
];

/** Decider metrics; each decider gets its own registry (no process-wide singletons). */
export function createDeciderMetrics(
  sources: DeciderGaugeSources,
  registry: MetricsRegistry = new MetricsRegistry(),
) {
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    commands: counter("weft_decider_commands_total", "Commands applied by deciders"),
    localCommands: counter(
      "weft_decider_local_commands_total",
      "Commands a worker in the decider's process handed over directly, committed without weft.commands",
    ),
    events: counter("weft_history_events_total", "History events committed"),
    tasks: counter("weft_tasks_dispatched_total", "Step tasks dispatched to workers"),
    deadLetters: deadLetterCounter(registry),
    timersFired: counter("weft_timers_fired_total", "Durable timers fired"),
    runsStarted: counter("weft_runs_started_total", "Runs started, by workflow type", ["type"]),
    runsClosed: counter("weft_runs_closed_total", "Runs closed, by workflow type and status", [
      "type",
      "status",
    ]),
    stepRetries: counter(
      "weft_step_retries_total",
      "Step retries scheduled (StepRetryScheduled), by workflow type and step",
      ["type", "step"],
    ),
    openRuns: new Gauge({
      name: "weft_decider_open_runs",
      help: "Open runs held by this decider",
      registers: [registry],
      collect() {
        this.set(sources.openRuns());
      },
    }),
    partitionResets: new Counter({
      name: "weft_decider_partition_resets_total",
      help: "Times an owned partition dropped its state and reopened from the committed offset, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    reopensDeferred: counter(
      "weft_decider_reopens_deferred_total",
      "Reopens of a fenced partition put off because the group gave it to another member or was rebalancing",
    ),
    partitionNotReady: new Gauge({
      name: "weft_decider_partition_not_ready_seconds",
      help: "How long each owned partition of weft.commands has been without state (0 when ready)",
      labelNames: ["partition"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [partition, seconds] of sources.notReadySeconds?.() ?? [])
          this.set({ partition: String(partition) }, seconds);
      },
    }),
    // Where a decision's milliseconds go, for the latency breakdown (bench:peers prints it).
    commandWait: new Histogram({
      name: "weft_decider_command_wait_seconds",
      help: "From a command's record timestamp (when it was produced) until the decider decides on it: fetch, queue and linger",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    commitDuration: new Histogram({
      name: "weft_decider_commit_seconds",
      help: "A decision transaction from its first send to the broker's answer to its commit",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    pendingTimers: new Gauge({
      name: "weft_timers_pending",
      help: "Timers pending in this decider",
      registers: [registry],
      collect() {
        this.set(sources.pendingTimers());
      },
    }),
  };
}

export type DeciderMetrics = ReturnType<typeof createDeciderMetrics>;
