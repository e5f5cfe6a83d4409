import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import {
  liveTopics,
  PROJECTOR_REPORT_INTERVAL_MS,
  type LiveEmitter,
  type ProjectorReport,
} from "../projections/live-changes";

/**
 * READY: every partition it holds gets its batches through; STALLED: one does not (see
 * projections/projector-health.ts); SILENT: no report for three intervals (the projector hangs,
 * was killed, or cannot reach Redis).
 */
export type ProjectorState = "READY" | "STALLED" | "SILENT";

/** A projector as the API shows it: its last report and what the API makes of it. */
export interface ProjectorStatus extends ProjectorReport {
  readonly state: ProjectorState;
  /** When the API received the report (ISO-8601). */
  readonly receivedAt: string;
}

/** Silent after three missed reports. */
export const SILENT_AFTER_MS = 3 * PROJECTOR_REPORT_INTERVAL_MS;
/** A silent projector is listed this long, then forgotten. */
const FORGET_AFTER_MS = 10 * 60_000;
/** Projectors remembered at most (the silent ones longest ago go first). */
const MAX_PROJECTORS = 100;

/**
 * The projectors of the installation, as each last reported itself on the live-update channel
 * (Redis pub/sub; in embedded mode the emitter in the process). One per API instance. Best
 * effort like live updates: the projector's own /readyz and metrics are the authority; this is
 * what the dashboard shows. Memory is bounded: at most MAX_PROJECTORS, each forgotten ten
 * minutes after its last report or at once when it says it stopped.
 */
export class ProjectorBoard {
  private readonly reports = new Map<string, { report: ProjectorReport; receivedAt: number }>();
  private readonly topic: string;
  private readonly listener = (message: Record<string, unknown>, done: () => void) => {
    try {
      this.receive(message as unknown as ProjectorReport);
    } catch (err) {
      this.deps.logger.warn({ err }, "projector report not handled");
    }
    done();
  };

  constructor(
    private readonly deps: {
      config: WeftConfig;
      emitter: LiveEmitter;
      logger: Logger;
      now?: () => number;
    },
  ) {
    this.topic = liveTopics(deps.config).projectors;
  }

  /** The live-update topic whose messages change the board. */
  get trigger(): string {
    return this.topic;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.deps.emitter.on(this.topic, this.listener, resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.deps.emitter.removeListener(this.topic, this.listener, () => resolve()),
    );
  }

  /** Every projector heard from in the last ten minutes, by ID. */
  list(): ProjectorStatus[] {
    const now = this.now();
    this.forget(now);
    return [...this.reports.values()]
      .map(({ report, receivedAt }) => ({
        ...report,
        state: stateOf(report, now - receivedAt),
        receivedAt: new Date(receivedAt).toISOString(),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  private receive(report: ProjectorReport): void {
    if (typeof report.id !== "string") return;
    if (report.stopped) {
      this.reports.delete(report.id);
      return;
    }
    this.reports.delete(report.id);
    this.reports.set(report.id, { report: withoutTopic(report), receivedAt: this.now() });
    // The map is in order of the last report: the first ones are the longest silent.
    while (this.reports.size > MAX_PROJECTORS) {
      this.reports.delete(this.reports.keys().next().value!);
    }
  }

  private forget(now: number): void {
    for (const [id, { receivedAt }] of this.reports) {
      if (now - receivedAt > FORGET_AFTER_MS) this.reports.delete(id);
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function stateOf(report: ProjectorReport, silentMs: number): ProjectorState {
  if (silentMs > SILENT_AFTER_MS) return "SILENT";
  return report.ready ? "READY" : "STALLED";
}

/** The emitter's message carries its topic; the report is the rest. */
function withoutTopic(message: ProjectorReport & { topic?: unknown }): ProjectorReport {
  const { topic: _topic, ...report } = message;
  return report;
}
