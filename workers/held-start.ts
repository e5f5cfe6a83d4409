/**
 * How long a worker holds an attempt's started report back. A step that ends sooner sends its
 * start with its result, one command instead of two: half the reports a quick step costs the
 * producer, the broker, the decider's fetch and its decision (a burst of 5,000 three-step runs
 * on one broker ran 5–23 % more steps a second). A longer step's started report goes out this
 * much later than it began, so its start shows that much later and its start-to-close timer,
 * which the decider starts when it records the start, runs that much longer; the worker's own
 * timeout of the attempt counts from the real start.
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
