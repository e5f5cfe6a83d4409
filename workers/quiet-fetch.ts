/**
 * Quiet fetching of a task partition whose every task reaches this worker from the decider
 * beside it, as that decider commits them (Worker.offer). The partition's records then only
 * confirm what already ran here, yet fetched as usual they cost a fetch round trip per task or
 * two: at a steady rate about half of a process's Kafka requests, and time the broker and
 * the decider in the same process spend on nothing. So such a partition is paused, and read
 * in one catch-up every QUIET_CATCH_UP_MS: each catch-up resumes it until its next batch has
 * been handled, which commits its offsets and runs whatever was not run here.
 *
 * Nothing waits on a quiet partition for more than about two catch-ups (under half a second:
 * a batch fetched just before a catch-up began may end it, and a consumer whose partitions are
 * all paused looks again after its fetch wait):
 * - a task the worker could not take when offered (no free slot, a failed run) wakes its
 *   partition at once (`wake`);
 * - a task written by another decider (one that owned the command partition before, or owns
 *   it now without this process knowing yet) is read at a catch-up, and the partition fetches
 *   as usual from then on, as soon as the decider here no longer covers it;
 * - a rebalance of the worker's group resumes every partition (`reset`).
 */
export const QUIET_CATCH_UP_MS = 200;

export interface QuietFetchOptions {
  /** True while the decider beside this worker writes, and offers here, every task of it. */
  covered(partition: number): boolean;
  pause(partition: number): void;
  resume(partition: number): void;
  /** False once the worker stops: its consumer is paused for good, nothing resumes it. */
  active(): boolean;
  /** How many partitions are quiet now, after each change. */
  onQuiet?(count: number): void;
}

export class QuietFetch {
  /** Paused here, until the next catch-up or a wake. */
  private readonly quiet = new Set<number>();
  /** Resumed for a catch-up: paused again once its next batch is handled. */
  private readonly catchingUp = new Set<number>();

  constructor(private readonly options: QuietFetchOptions) {}

  /** Every QUIET_CATCH_UP_MS: each covered partition catches up, any other fetches as usual. */
  tick(held: Iterable<number>): void {
    if (!this.options.active()) return;
    const quietBefore = this.quiet.size;
    for (const partition of held) {
      this.resumeIfQuiet(partition);
      if (this.options.covered(partition)) this.catchingUp.add(partition);
      else this.catchingUp.delete(partition);
    }
    if (this.quiet.size !== quietBefore) this.changed();
  }

  /** A batch of the partition was dispatched to its end: a catch-up is over there. */
  handled(partition: number): void {
    if (!this.catchingUp.delete(partition)) return;
    if (!this.options.active() || !this.options.covered(partition)) return;
    this.options.pause(partition);
    this.quiet.add(partition);
    this.changed();
  }

  /** A task of the partition was not run here when offered: its record is needed now. */
  wake(partition: number): void {
    this.catchingUp.delete(partition);
    if (!this.quiet.has(partition) || !this.options.active()) return;
    this.resumeIfQuiet(partition);
    this.changed();
  }

  /** The group dealt partitions again: each fetches as usual until the next catch-up. */
  reset(): void {
    this.catchingUp.clear();
    if (!this.options.active()) {
      this.quiet.clear();
      return;
    }
    for (const partition of [...this.quiet]) this.resumeIfQuiet(partition);
    this.changed();
  }

  /** Whether the partition is paused here now. */
  isQuiet(partition: number): boolean {
    return this.quiet.has(partition);
  }

  private resumeIfQuiet(partition: number): void {
    if (this.quiet.delete(partition)) this.options.resume(partition);
  }

  private changed(): void {
    this.options.onQuiet?.(this.quiet.size);
  }
}
