import type { Clock, ClockTimer } from "../core/clock";

interface VirtualTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly fn: () => unknown;
  cancelled: boolean;
}

/**
 * A clock whose time moves only when told to (`advanceTo`). Timers due at or before the
 * current time fire on the next turn of the event loop, in due order; work a timer's callback
 * returns (a promise) counts as in flight until it settles. Nothing here keeps the process
 * alive: a pending virtual timer is only an entry in a list.
 */
export class VirtualClock implements Clock {
  private time: number;
  private nextId = 1;
  /** Pending timers, ordered by due time, then by when they were armed. */
  private timers: VirtualTimer[] = [];
  private running = 0;
  private firing: NodeJS.Immediate | undefined;

  constructor(startAt: number) {
    this.time = startAt;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => unknown, ms: number): ClockTimer {
    const timer: VirtualTimer = {
      id: this.nextId++,
      dueAt: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0),
      fn,
      cancelled: false,
    };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.dueAt > timer.dueAt) i--;
    this.timers.splice(i, 0, timer);
    if (timer.dueAt <= this.time) this.scheduleFiring();
    return {
      cancel: () => {
        timer.cancelled = true;
        this.timers = this.timers.filter((t) => t !== timer);
      },
    };
  }

  /** The due time of the earliest pending timer. */
  nextDueAt(): number | undefined {
    return this.timers[0]?.dueAt;
  }

  /** Pending timers. */
  get pending(): number {
    return this.timers.length;
  }

  /** True while a due timer waits to fire or a fired timer's work has not settled. */
  get busy(): boolean {
    return this.running > 0 || this.firing !== undefined;
  }

  /** Moves time forward to `time` (never back) and fires every timer now due. */
  advanceTo(time: number): void {
    if (time <= this.time) return;
    this.time = time;
    if (this.timers[0] && this.timers[0].dueAt <= this.time) this.scheduleFiring();
  }

  private scheduleFiring(): void {
    this.firing ??= setImmediate(() => {
      this.firing = undefined;
      while (this.timers[0] && this.timers[0].dueAt <= this.time) {
        const timer = this.timers.shift()!;
        if (!timer.cancelled) this.run(timer);
      }
    });
  }

  private run(timer: VirtualTimer): void {
    let result: unknown;
    this.running++;
    try {
      result = timer.fn();
    } catch {
      // A timer callback's errors are its own business, as with setTimeout.
    }
    void Promise.resolve(result)
      .catch(() => undefined)
      .finally(() => this.running--);
  }
}
