/**
 * Named fault points: places in the transport and lease paths where a test can make the next
 * call fail, or hold it until the test lets it go. Every failure branch of the decider (and
 * the worker's result reports) then has a deterministic test instead of waiting for a broker
 * to misbehave at the right moment.
 *
 * A process without armed points pays one map lookup per call site. Instances are passed in
 * (no process-wide registry), so two roles in one test process never share armed faults.
 */

/** The named points, where they sit, and what "fail" means there. */
export const FAULT_POINTS = {
  /** The decision transaction's commit (history + tasks + consumed offset). */
  "decider.commit": "commit of a decision transaction",
  /** A fetched batch of commands, before the decider takes it: a held point makes it lag. */
  "decider.fetch": "hand-over of a fetched batch of commands to its partition",
  /** Reading the group's committed offset of a partition when it (re)opens. */
  "decider.committed-offset": "fetch of a partition's committed offset",
  /** Moving the consumer back to the committed offset (the rewind). */
  "decider.seek": "consumer seek to the committed offset",
  /** Restoring a partition's runs. */
  "decider.restore": "restore of a partition's state",
  "decider.changelog-read":
    "read of a partition's changelog (a ReadStalledError here stands for one kafkajs cannot finish)",
  /** Reading a partition's end offset before its due timers fire. */
  "decider.end-offset": "fetch of a partition's end offset for timers",
  /** Just before a decision transaction begins: a held point keeps the batch in flight. */
  "decider.before-commit": "start of a decision transaction",
  /** A worker's send of a step's result (completed or failed) to the deciders. */
  "worker.report": "send of a step result report",
} as const;

export type FaultPointName = keyof typeof FAULT_POINTS;

/** An error thrown by an armed fault point; retried like any transient fault. */
export class InjectedFault extends Error {
  constructor(readonly point: FaultPointName) {
    super(`injected fault at ${point} (${FAULT_POINTS[point]})`);
    this.name = "InjectedFault";
  }
}

interface Armed {
  /** Calls still to fail (or hold). */
  remaining: number;
  /** What a failing call throws (an InjectedFault unless given). */
  error?: () => Error;
  /** When set, a hit waits for this instead of failing. */
  hold: Promise<void> | undefined;
  hits: number;
}

export class FaultPoints {
  private readonly armed = new Map<FaultPointName, Armed>();
  private readonly hitCounts = new Map<FaultPointName, number>();
  private readonly waiters = new Map<FaultPointName, (() => void)[]>();

  /** The next `times` calls through `point` throw an InjectedFault (or what `error` makes). */
  fail(point: FaultPointName, times = 1, error?: () => Error): this {
    this.armed.set(point, { remaining: times, hold: undefined, hits: 0, error });
    return this;
  }

  /**
   * The next call through `point` waits until the returned `release` is called (then goes on
   * normally). `reached` resolves once a call is waiting there.
   */
  hold(point: FaultPointName): { reached: Promise<void>; release: () => void } {
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    this.armed.set(point, { remaining: 1, hold, hits: 0 });
    return { reached: this.nextHit(point), release };
  }

  /** How many calls went through `point` (armed or not) so far. */
  hits(point: FaultPointName): number {
    return this.hitCounts.get(point) ?? 0;
  }

  /** Resolves at the next call through `point`. */
  nextHit(point: FaultPointName): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(point) ?? [];
      list.push(resolve);
      this.waiters.set(point, list);
    });
  }

  /** Called at the point itself: throws or holds when armed, else returns at once. */
  async at(point: FaultPointName): Promise<void> {
    this.hitCounts.set(point, (this.hitCounts.get(point) ?? 0) + 1);
    const waiting = this.waiters.get(point);
    if (waiting) {
      this.waiters.delete(point);
      for (const resolve of waiting) resolve();
    }
    const armed = this.armed.get(point);
    if (!armed || armed.remaining <= 0) return;
    armed.remaining--;
    armed.hits++;
    if (armed.remaining === 0) this.armed.delete(point);
    if (armed.hold) {
      await armed.hold;
      return;
    }
    throw armed.error?.() ?? new InjectedFault(point);
  }
}

/** For call sites given no fault points: nothing is ever armed. */
export const noFaults = {
  at: (): Promise<void> => Promise.resolve(),
} satisfies Pick<FaultPoints, "at">;

export type FaultSeam = Pick<FaultPoints, "at">;
