/**
 * One listener on a shared AbortSignal however many wait on it: what keeps a worker (and the
 * test kit) with many steps in flight clear of MaxListenersExceededWarning.
 */
import { getEventListeners } from "node:events";
import { SignalFanOut } from "../../core/signal-fan-out";

it("many waiters add one listener to the signal, and each leaves when its wait ends", async () => {
  const controller = new AbortController();
  const fanOut = new SignalFanOut(controller.signal);
  const aborted: number[] = [];
  const forget = Array.from({ length: 50 }, (_, i) => fanOut.onAbort(() => aborted.push(i)));
  const sleeps = Array.from({ length: 50 }, () => fanOut.sleep(60_000));
  expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
  expect(fanOut.waiting).toBe(100);

  forget[0]!();
  await fanOut.sleep(1); // a wait that ends by itself leaves too
  expect(fanOut.waiting).toBe(99);

  controller.abort();
  await Promise.all(sleeps);
  expect(aborted).toHaveLength(49);
  expect(aborted).not.toContain(0);
  expect(fanOut.waiting).toBe(0);
});

it("on an aborted signal, callbacks run at once and sleeps resolve at once", async () => {
  const controller = new AbortController();
  controller.abort();
  const fanOut = new SignalFanOut(controller.signal);
  let called = false;
  fanOut.onAbort(() => (called = true));
  expect(called).toBe(true);
  const started = Date.now();
  await fanOut.sleep(60_000);
  expect(Date.now() - started).toBeLessThan(1000);
  expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
});
