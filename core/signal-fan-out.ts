/**
 * Many waiters on one AbortSignal through a single listener. A role's stopping signal is
 * shared by everything it has in flight; adding a listener per task in flight would grow
 * with the load (and Node warns past 10 listeners on one signal: MaxListenersExceededWarning).
 * Here each waiter is an entry in a set, removed when its wait ends; the signal has one
 * listener, however many wait.
 */
export class SignalFanOut {
  private readonly waiters = new Set<() => void>();

  constructor(readonly signal: AbortSignal) {
    if (!signal.aborted) signal.addEventListener("abort", () => this.fire(), { once: true });
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  /**
   * Calls `callback` once when the signal aborts (at once when it has already); returns the
   * function that cancels the call, to run when the wait ends first.
   */
  onAbort(callback: () => void): () => void {
    if (this.signal.aborted) {
      callback();
      return () => undefined;
    }
    this.waiters.add(callback);
    return () => this.waiters.delete(callback);
  }

  /** Resolves after `ms`, or as soon as the signal aborts. Never rejects. */
  sleep(ms: number): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** How many wait now (for tests). */
  get waiting(): number {
    return this.waiters.size;
  }

  private fire(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}
