/**
 * Limits how many jobs run at once. Jobs are started without their caller awaiting them; a
 * caller only waits (for a free slot) when the pool is full.
 */
export class SlotPool {
  private active = 0;
  private readonly running = new Set<Promise<void>>();
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${size}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get full(): boolean {
    return this.active >= this.size;
  }

  /**
   * Waits until a slot is free. Calls `tick` every `tickMs` while waiting (to heartbeat the
   * consumer group). Resolves false when the pool was closed meanwhile.
   */
  async waitForSlot(tick?: () => Promise<void>, tickMs = 1000): Promise<boolean> {
    while (!this.closed && this.full) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve();
        };
        const timer = setTimeout(wake, tickMs);
        this.waiters.push(wake);
      });
      if (!this.closed && this.full && tick) await tick();
    }
    return !this.closed;
  }

  /** Starts a job in a slot; the caller must have waited for one. Never rejects. */
  run(job: () => Promise<void>): void {
    this.active++;
    const done: Promise<void> = Promise.resolve()
      .then(job)
      .catch(() => {
        // Jobs handle their own errors; a slot is always given back.
      })
      .finally(() => {
        this.active--;
        this.running.delete(done);
        this.wakeOne();
      });
    this.running.add(done);
  }

  /** Stops handing out slots: current and future waiters get false. Running jobs go on. */
  close(): void {
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves true when every running job finished, false if `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.running]).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), left);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) return this.running.size === 0;
    }
    return true;
  }

  private wakeOne(): void {
    const wake = this.waiters.shift();
    if (wake) wake();
  }
}
