/**
 * kafkajs 2.2.4 keeps a 1 ms timer running on every broker connection for as long as the
 * process lives (kafkajs issues #1556 and #1704, unreleased upstream): after each check of its
 * queue of requests waiting to be sent, its request queue schedules the next check at the end
 * of the broker's throttle, and with no throttle that delay is negative, so Node runs it after
 * 1 ms, again and again, whether anything waits or not. A decider and worker process with a
 * dozen connections ran about 7,700 of those timers a second while idle: the event loop woke
 * every millisecond and the process used 7 % of a core doing nothing.
 *
 * The first Weft client a process creates replaces that scheduling on kafkajs's class, so for
 * every client of the same kafkajs install in the process (an application's own included),
 * with the one the queue needs: a check only while requests wait (at the throttle's end, or
 * after kafkajs's own 10 ms interval when the throttle has passed). A request that cannot be
 * sent at once is queued by `push`, which schedules a check; one held back only by the
 * in-flight limit is sent when a response frees a slot (`fulfillRequest` checks the queue); so
 * a queue with nothing waiting needs no timer.
 */
import { kafkajsModule } from "./kafkajs-modules";

/** The fields of kafkajs's RequestQueue this scheduling reads and writes. */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's interval between checks while requests wait and no throttle says when to send. */
const CHECK_PENDING_MS = 10;

/** Schedules the queue's next check only while requests wait in it. */
function scheduleCheckPendingRequests(this: RequestQueue): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_MS,
  );
}

/** The kafkajs request queue class Weft's clients use. */
export function kafkajsRequestQueue(): { prototype: RequestQueue } {
  return kafkajsModule("./src/network/requestQueue/index.js") as { prototype: RequestQueue };
}

/** Puts Weft's scheduling of pending-request checks on kafkajs's class; a second call changes nothing. */
export function installRequestQueueTimer(): void {
  kafkajsRequestQueue().prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
}
