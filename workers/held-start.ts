/**
 * How long a worker holds an attempt's started report back. A step that ends sooner sends its
 * start with its result: one command instead of two, so half the step reports for the
 * producer, the broker, the decider's fetch and its decision to handle (docs/benchmarks.md
 * has what that gained). A longer step's started report goes out this much later than the
 * step began, so its start shows that much later and the decider's start-to-close timer, which
 * counts from the recorded start, runs that much longer; the worker's own watch of the limit
 * counts from the real start.
 */
export const STARTED_REPORT_HOLD_MS = 10;

/**
 * An attempt's started report, held back until `holdMs` passed, something must follow it in
 * order (a heartbeat), or the attempt ended and its result takes the start with it.
 */
export class HeldStart {
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<boolean> | undefined;
  private takenBack = false;

  constructor(
    /** The worker's clock when the attempt began to run (what the report says). */
    readonly startedAt: number,
    private readonly send: () => Promise<boolean>,
    holdMs: number = STARTED_REPORT_HOLD_MS,
  ) {
    this.timer = setTimeout(() => void this.flush(), holdMs);
    this.timer.unref();
  }

  /** Sends the report now unless it went or was taken back; resolves as its one try does. */
  flush(): Promise<boolean> | undefined {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.sending && !this.takenBack) this.sending = this.send();
    return this.sending;
  }

  /**
   * The attempt ended: a report not sent yet never is, and true says the result is to carry
   * `startedAt`; false, the report went before (the result goes without it).
   */
  takeBack(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) return false;
    this.takenBack = true;
    return true;
  }

  /** The report's one try, if it went (resolves false when that try failed). */
  get sent(): Promise<boolean> | undefined {
    return this.sending;
  }
}
