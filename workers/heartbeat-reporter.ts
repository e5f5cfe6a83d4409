import { InvalidInputError } from "../core/errors";
import { toJsonText } from "../core/json";
import { MAX_HEARTBEAT_DETAILS_BYTES } from "../schemas/types";

/**
 * Heartbeats sent per heartbeat timeout: the decider hears of a live attempt at least twice
 * per timeout, so one slow send does not make it take the attempt as lost.
 */
const BEATS_PER_TIMEOUT = 2;

/**
 * The heartbeats of one attempt whose step has a heartbeat timeout. `beat` is what
 * `step.heartbeat(details)` does besides extending the lease:
 * - it tells the decider, at most once per half timeout (the first at once, then the latest
 *   details at the end of each interval), so a step that heartbeats in a tight loop costs one
 *   history event per interval, not one per call;
 * - it restarts this worker's own watch: a handler that goes a whole timeout without a beat
 *   is timed out here (`onTimeout`) as the decider would, so a hung handler's attempt ends
 *   where it runs. The decider's timer stays the authority when this worker is gone.
 */
export class HeartbeatReporter {
  private readonly intervalMs: number;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** Details not sent yet (undefined: nothing pending); null is a beat without details. */
  private pending: { details: string | null } | undefined;
  private trailing: NodeJS.Timeout | undefined;
  private watch: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly send: (details: string | null) => Promise<void>,
    private readonly onTimeout: () => void,
  ) {
    this.intervalMs = Math.max(1, Math.floor(timeoutMs / BEATS_PER_TIMEOUT));
    this.restartWatch();
  }

  /**
   * Checks and records one beat; throws InvalidInputError for details that are not JSON or
   * over MAX_HEARTBEAT_DETAILS_BYTES (nothing is sent then).
   */
  beat(details?: unknown): void {
    const text = heartbeatDetails(details);
    if (this.closed) return;
    this.restartWatch();
    // A beat without details keeps the details of one not sent yet: progress is not lost.
    this.pending = { details: text ?? this.pending?.details ?? null };
    const waited = Date.now() - this.lastSentAt;
    if (waited >= this.intervalMs) this.flush();
    else this.trailing ??= setTimeout(() => this.flush(), this.intervalMs - waited);
  }

  /**
   * Stops the watch and the interval. With `sendPending` (the attempt failed), details not
   * sent yet go out first, so the next attempt gets them; resolves once they are sent.
   */
  async close(sendPending: boolean): Promise<void> {
    this.closed = true;
    clearTimeout(this.watch);
    clearTimeout(this.trailing);
    const pending = this.pending;
    this.pending = undefined;
    if (sendPending && pending) await this.send(pending.details).catch(() => undefined);
  }

  private flush(): void {
    this.trailing = undefined;
    const pending = this.pending;
    if (!pending || this.closed) return;
    this.pending = undefined;
    this.lastSentAt = Date.now();
    // A lost heartbeat is made up for by the next; the caller logs the failure.
    void this.send(pending.details).catch(() => undefined);
  }

  private restartWatch(): void {
    clearTimeout(this.watch);
    this.watch = setTimeout(() => {
      if (!this.closed) this.onTimeout();
    }, this.timeoutMs);
  }
}

/** The details of a beat as JSON text (null for none); throws InvalidInputError. */
export function heartbeatDetails(details: unknown): string | null {
  if (details === undefined) return null;
  const text = toJsonText(details, "heartbeat details");
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_HEARTBEAT_DETAILS_BYTES)
    throw new InvalidInputError(
      `heartbeat details take ${bytes} bytes as JSON, over the limit of ${MAX_HEARTBEAT_DETAILS_BYTES}: keep a cursor or a count, not the data`,
      { bytes, limit: MAX_HEARTBEAT_DETAILS_BYTES },
    );
  return text;
}
