import type { AttemptRef } from "../workers/redis-keys";
import type { AttemptLeases, HeldLease, LeaseResult } from "../workers/step-lease";

function key(ref: AttemptRef): string {
  return `${ref.workflowId}/${ref.stepSeq}/${ref.attempt}`;
}

/**
 * Done-markers and leases for the one worker of a test environment. The step runner already
 * waits for a local run of the same attempt, so a lease is only ever free here; the
 * done-marker still stops an attempt running twice.
 */
export class InMemoryLeases implements AttemptLeases {
  private readonly done = new Set<string>();

  acquire(ref: AttemptRef): Promise<LeaseResult> {
    if (this.done.has(key(ref))) return Promise.resolve({ kind: "done" });
    const lease: HeldLease = { extend: () => Promise.resolve(), release: () => Promise.resolve() };
    return Promise.resolve({ kind: "acquired", lease });
  }

  markDone(ref: AttemptRef): Promise<void> {
    this.done.add(key(ref));
    return Promise.resolve();
  }
}
