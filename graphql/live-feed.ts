import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { ReadModelDb } from "../projections/read-model-db";
import {
  liveTopics,
  type EventsAppended,
  type LiveEmitter,
  type LiveEvent,
  type RunsChanged,
} from "../projections/live-changes";
import { findRuns, type RunRow } from "./run-queries";

/** Topics of the API's in-process pub/sub, which fans one Redis message out to subscribers. */
export const localTopics = {
  runs: "runs",
  events: (workflowId: string) => `events/${workflowId}`,
  derived: (name: string) => `derived/${name}`,
};

export type LocalPublish = (topic: string, payload: unknown) => void;

/** A value recomputed from the read models when they change, pushed only when it differs. */
export interface DerivedFeed {
  readonly name: string;
  read(): Promise<unknown>;
  /** Recomputed at most this often while the read models change. */
  readonly minIntervalMs: number;
  /** Also recomputed this often when nothing changed (e.g. liveness that ages). */
  readonly refreshMs?: number;
  /** Redis topics (besides runs) whose messages make it stale. */
  readonly triggers?: readonly string[];
}

interface DerivedState {
  readonly feed: DerivedFeed;
  watchers: number;
  dirty: boolean;
  computing: boolean;
  last: string | undefined;
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since the epoch). */
  timerDue: number;
}

type Listener = (message: Record<string, unknown>, done: () => void) => void;

/**
 * One per API instance: listens to the projector's change feed in Redis and publishes, into
 * the instance's in-process pub/sub, what subscriptions need. Rows are read from PostgreSQL
 * once per change for all subscribers, and only while somebody listens; a run's events travel
 * on a Redis channel of their own, subscribed while that run is watched.
 */
export class LiveFeed {
  private readonly topics: ReturnType<typeof liveTopics>;
  private runWatchers = 0;
  private readonly pendingRuns = new Set<string>();
  private loadingRuns = false;
  private readonly eventWatches = new Map<string, { count: number; listener: Listener }>();
  private readonly derived = new Map<string, DerivedState>();
  private readonly triggerListeners: Array<[string, Listener]> = [];
  private stopped = false;

  constructor(
    private readonly deps: {
      config: WeftConfig;
      db: ReadModelDb;
      emitter: LiveEmitter;
      publish: LocalPublish;
      logger: Logger;
      derived?: readonly DerivedFeed[];
    },
  ) {
    this.topics = liveTopics(deps.config);
    for (const feed of deps.derived ?? []) {
      this.derived.set(feed.name, {
        feed,
        watchers: 0,
        dirty: true,
        computing: false,
        last: undefined,
        lastAt: 0,
        timer: undefined,
        timerDue: 0,
      });
    }
  }

  async start(): Promise<void> {
    await this.listen(this.topics.runs, (message) => this.onRunsChanged(message));
    const triggers = new Set(
      [...this.derived.values()].flatMap((d) => d.feed.triggers ?? []).map((t) => t),
    );
    for (const trigger of triggers) {
      const topic = trigger === "processes" ? this.topics.processes : trigger;
      await this.listen(topic, () => {
        for (const state of this.derived.values()) {
          if (state.feed.triggers?.includes(trigger)) this.markDirty(state);
        }
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.derived.values()) clearTimeout(state.timer);
    for (const [topic, listener] of this.triggerListeners) {
      await new Promise<void>((resolve) =>
        this.deps.emitter.removeListener(topic, listener, resolve),
      );
    }
    for (const [workflowId, watch] of this.eventWatches) {
      this.deps.emitter.removeListener(this.topics.events(workflowId), watch.listener);
    }
    this.eventWatches.clear();
  }

  /** Counts a `workflowUpdated` subscriber; call the result when it ends. */
  watchRuns(): () => void {
    this.runWatchers += 1;
    return once(() => (this.runWatchers -= 1));
  }

  /** Subscribes the run's Redis channel while at least one subscriber watches it. */
  async watchEvents(workflowId: string): Promise<() => void> {
    const topic = this.topics.events(workflowId);
    let watch = this.eventWatches.get(workflowId);
    if (watch) {
      watch.count += 1;
    } else {
      const listener: Listener = (message, done) => {
        const { events } = message as unknown as EventsAppended;
        for (const event of events) this.deps.publish(localTopics.events(workflowId), event);
        done();
      };
      watch = { count: 1, listener };
      this.eventWatches.set(workflowId, watch);
      await new Promise<void>((resolve) => this.deps.emitter.on(topic, listener, resolve));
    }
    const current = watch;
    return once(() => {
      current.count -= 1;
      if (current.count > 0 || this.eventWatches.get(workflowId) !== current) return;
      this.eventWatches.delete(workflowId);
      this.deps.emitter.removeListener(topic, current.listener);
    });
  }

  /** Counts a subscriber of a derived feed and pushes it a fresh value soon. */
  watchDerived(name: string): () => void {
    const state = this.derived.get(name);
    if (!state) throw new Error(`no derived feed ${name}`);
    state.watchers += 1;
    this.schedule(state);
    return once(() => {
      state.watchers -= 1;
      if (state.watchers === 0) {
        clearTimeout(state.timer);
        state.timer = undefined;
        // Whoever subscribes next gets a fresh value, not one remembered from before.
        state.last = undefined;
        state.dirty = true;
      }
    });
  }

  /** The latest value of a derived feed, read now. */
  readDerived(name: string): Promise<unknown> {
    const state = this.derived.get(name);
    if (!state) throw new Error(`no derived feed ${name}`);
    return state.feed.read();
  }

  /**
   * What a new subscriber of a derived feed starts with: its value read now, or nothing when
   * that read fails (Kafka or PostgreSQL away a moment). Then the feed's next value goes out
   * even if it equals the last one published: a subscription begun while a dependency was
   * away gets its first value once it is back, rather than ending with the error (a dashboard
   * would show it until reloaded).
   */
  async firstOfDerived(name: string): Promise<unknown[]> {
    try {
      return [await this.readDerived(name)];
    } catch (err) {
      const state = this.derived.get(name)!;
      this.deps.logger.warn(
        { err, feed: name },
        "live value not read for a new subscriber; it gets the next one",
      );
      state.last = undefined;
      this.markDirty(state);
      return [];
    }
  }

  private async listen(topic: string, handle: (message: Record<string, unknown>) => void) {
    const listener: Listener = (message, done) => {
      try {
        handle(message);
      } catch (err) {
        this.deps.logger.warn({ err, topic }, "live update not handled");
      }
      done();
    };
    this.triggerListeners.push([topic, listener]);
    await new Promise<void>((resolve) => this.deps.emitter.on(topic, listener, resolve));
  }

  private onRunsChanged(message: Record<string, unknown>): void {
    for (const state of this.derived.values()) this.markDirty(state);
    if (this.runWatchers === 0) return;
    for (const id of (message as unknown as RunsChanged).ids) this.pendingRuns.add(id);
    void this.loadRuns();
  }

  /** One read in flight at a time; whatever changes meanwhile joins the next read. */
  private async loadRuns(): Promise<void> {
    if (this.loadingRuns || this.stopped) return;
    this.loadingRuns = true;
    try {
      while (this.pendingRuns.size > 0 && !this.stopped) {
        const ids = [...this.pendingRuns];
        this.pendingRuns.clear();
        const rows: RunRow[] = await findRuns(this.deps.db, ids);
        for (const row of rows) this.deps.publish(localTopics.runs, row);
      }
    } catch (err) {
      this.deps.logger.warn({ err }, "changed runs not read; subscribers miss this update");
    } finally {
      this.loadingRuns = false;
    }
  }

  private markDirty(state: DerivedState): void {
    state.dirty = true;
    if (state.watchers > 0) this.schedule(state);
  }

  private schedule(state: DerivedState): void {
    if (this.stopped) return;
    const due = Math.max(Date.now(), state.lastAt + state.feed.minIntervalMs);
    // An armed timer that fires soon enough stands; a later one (the idle refresh) is
    // brought forward, so a change never waits for the refresh.
    if (state.timer && state.timerDue <= due) return;
    this.arm(state, due);
  }

  private arm(state: DerivedState, due: number): void {
    clearTimeout(state.timer);
    state.timerDue = due;
    state.timer = setTimeout(() => void this.recompute(state), due - Date.now());
  }

  private async recompute(state: DerivedState): Promise<void> {
    state.timer = undefined;
    if (state.watchers === 0 || this.stopped || state.computing) return;
    state.computing = true;
    state.dirty = false;
    state.lastAt = Date.now();
    try {
      const value = await state.feed.read();
      const text = JSON.stringify(value);
      if (text !== state.last) {
        state.last = text;
        this.deps.publish(localTopics.derived(state.feed.name), value);
      }
    } catch (err) {
      this.deps.logger.warn({ err, feed: state.feed.name }, "live value not recomputed");
    } finally {
      state.computing = false;
    }
    if (state.watchers === 0 || this.stopped) return;
    if (state.dirty) this.schedule(state);
    else if (state.feed.refreshMs !== undefined) {
      this.arm(state, Date.now() + state.feed.refreshMs);
    }
  }
}

/** For the subscription resolvers: events already delivered are skipped by sequence. */
export type { LiveEvent };

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
