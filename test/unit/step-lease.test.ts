/**
 * A step's lease as the worker ends it, on the in-process store (embedded mode's), which has
 * no one-step "mark done and release": the marker is set, then the lease given back; a marker
 * that cannot be set is logged, and the lease still goes back.
 */
import { InProcessStepLeaseStore } from "../../adapters/in-process/step-lease-store";
import { SignalFanOut } from "../../core/signal-fan-out";
import { createLogger, type Logger } from "../../core/logger";
import type { AttemptRef } from "../../workers/attempt";
import { StepLeases, type LeaseResult } from "../../workers/step-lease";

const ref: AttemptRef = { workflowId: "wf-lease", stepSeq: 1, attempt: 1 };

function acquired(result: LeaseResult) {
  if (result.kind !== "acquired") throw new Error(`expected the lease, got ${result.kind}`);
  return result.lease;
}

function recordingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = createLogger("silent");
  log.warn = (_obj: unknown, message?: string) => {
    warnings.push(message ?? "");
  };
  return { log, warnings };
}

it("marks a reported attempt done and frees its lease", async () => {
  const store = new InProcessStepLeaseStore();
  const leases = new StepLeases(store, 1000, "w1");
  const stopping = new SignalFanOut(new AbortController().signal);
  const { log } = recordingLogger();
  const lease = acquired(await leases.acquire(ref, log, stopping));
  expect(await store.tryLock(ref, 1000)).toBeUndefined();

  await lease.releaseDone();
  expect(await store.isDone(ref)).toBe(true);
  expect(await store.tryLock(ref, 1000)).toBeDefined();
  // A redelivery of the task finds it done rather than running it again.
  expect((await leases.acquire(ref, log, stopping)).kind).toBe("done");
});

it("gives the lease back when the done-marker cannot be set, and says so", async () => {
  const store = new InProcessStepLeaseStore();
  store.markDone = () => Promise.reject(new Error("disk full"));
  const leases = new StepLeases(store, 1000, "w1");
  const { log, warnings } = recordingLogger();
  const stopping = new SignalFanOut(new AbortController().signal);
  const lease = acquired(await leases.acquire(ref, log, stopping));

  await lease.releaseDone();
  expect(warnings).toEqual([expect.stringMatching(/could not set the done-marker/)]);
  expect(await store.isDone(ref)).toBe(false);
  expect(await store.tryLock(ref, 1000)).toBeDefined();
  // Given back once: a second end of the same lease does nothing.
  await lease.release();
  expect(await store.tryLock(ref, 1000)).toBeUndefined();
});
