import type { MQEmitter } from "mqemitter";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { HistoryEvent } from "../schemas/types";
import type { ProjectorHealthJson } from "./projector-health";

/**
 * The projector's change feed: after each commit it tells every API instance, through Redis
 * pub/sub (in embedded mode: an emitter in the process), which rows changed. Only what changed travels; the API reads the rows themselves
 * from PostgreSQL, so a subscriber sees exactly what a query would return.
 */

/** Run rows changed in one commit. */
export interface RunsChanged {
  readonly ids: readonly string[];
}

/** One run's events, in order, as stored in weft_events. */
export interface EventsAppended {
  readonly workflowId: string;
  readonly events: readonly LiveEvent[];
}

export interface LiveEvent {
  readonly seq: number;
  readonly type: string;
  /** ISO-8601, as the API returns times. */
  readonly at: string;
  readonly body: unknown;
}

/** Process rows (registrations) changed in one commit. */
export interface ProcessesChanged {
  readonly ids: readonly string[];
}

/**
 * A projector's health, published every PROJECTOR_REPORT_INTERVAL_MS and when it stops: the
 * API keeps the latest of each projector for its `projectors` query.
 */
export interface ProjectorReport extends ProjectorHealthJson {
  /** The projector process's client ID (`weft-<host>-<pid>` unless configured). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** When it was published (ISO-8601). */
  readonly at: string;
  /** No partition is stalled. */
  readonly ready: boolean;
  /** The last report of a projector that stopped. */
  readonly stopped: boolean;
}

export const PROJECTOR_REPORT_INTERVAL_MS = 2000;

/** Redis channels are named per topic prefix, so several Weft installations share a Redis. */
export const liveTopics = (config: WeftConfig) => ({
  runs: `${config.topicPrefix}/runs`,
  processes: `${config.topicPrefix}/processes`,
  projectors: `${config.topicPrefix}/projectors`,
  events: (workflowId: string) => `${config.topicPrefix}/events/${workflowId}`,
});

/**
 * The live-update port: an MQEmitter. Over Redis pub/sub it reaches every API instance; in
 * embedded mode the projector and the API share one in-process emitter (the `mqemitter`
 * package, which mqemitter-redis builds on: the same API).
 */
export type LiveEmitter = MQEmitter;

export function closeLiveEmitter(emitter: LiveEmitter): Promise<void> {
  return new Promise((resolve) => emitter.close(() => resolve()));
}

export function toLiveEvent(event: HistoryEvent): LiveEvent {
  return {
    seq: event.seq,
    type: event.body.type,
    at: new Date(event.at).toISOString(),
    body: event.body,
  };
}

/** What one committed projector transaction changed. */
export interface CommitSummary {
  readonly workflowIds: readonly string[];
  readonly events: readonly HistoryEvent[];
  readonly processIds?: readonly string[];
}

/** Publishes a commit's changes; never throws (a failed publish is logged). */
export function publishCommit(
  emitter: LiveEmitter,
  config: WeftConfig,
  logger: Logger,
  changes: CommitSummary,
): void {
  const topic = liveTopics(config);
  const onError = (err?: Error) => {
    if (err) logger.warn({ err }, "live update not published");
  };
  const byRun = new Map<string, LiveEvent[]>();
  for (const event of changes.events) {
    const list = byRun.get(event.workflowId);
    if (list) list.push(toLiveEvent(event));
    else byRun.set(event.workflowId, [toLiveEvent(event)]);
  }
  for (const [workflowId, events] of byRun) {
    const message: EventsAppended = { workflowId, events };
    emitter.emit({ topic: topic.events(workflowId), ...message }, onError);
  }
  if (changes.workflowIds.length > 0) {
    const message: RunsChanged = { ids: changes.workflowIds };
    emitter.emit({ topic: topic.runs, ...message }, onError);
  }
  if (changes.processIds && changes.processIds.length > 0) {
    const message: ProcessesChanged = { ids: changes.processIds };
    emitter.emit({ topic: topic.processes, ...message }, onError);
  }
}

/** Publishes a projector's health; never throws (a failed publish is logged at debug). */
export function publishProjectorReport(
  emitter: LiveEmitter,
  config: WeftConfig,
  logger: Logger,
  report: ProjectorReport,
): void {
  emitter.emit({ topic: liveTopics(config).projectors, ...report }, (err?: Error) => {
    if (err) logger.debug({ err }, "projector health not published");
  });
}
