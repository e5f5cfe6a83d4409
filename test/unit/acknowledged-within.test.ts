/**
 * The bound on how long a command's sender waits for Kafka: NOT_ACKNOWLEDGED at the timeout or
 * when the send fails, naming the workflow ID (and a signal's request ID) to send it again with;
 * a send that fails after the timeout answered is handled, not left unhandled.
 */
import { WeftError } from "../../core/errors";
import { acknowledgedWithin } from "../../producers/acknowledged-within";
import type { Command } from "../../schemas/types";
import { signal, start } from "../support/command-bodies";

const startCommand = { workflowId: "order-7", body: start("order") } as Command;
const signalCommand = { workflowId: "order-7", body: signal("paid") } as Command;

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it("resolves when the send is acknowledged in time", async () => {
  const send = deferred();
  const answer = acknowledgedWithin(send.promise, 1_000, startCommand);
  send.resolve();
  await expect(answer).resolves.toBeUndefined();
});

it("answers NOT_ACKNOWLEDGED at the bound, with the workflow ID, and handles a later failure", async () => {
  const send = deferred();
  const answer = acknowledgedWithin(send.promise, 1_000, startCommand);
  jest.advanceTimersByTime(999);
  let settled = false;
  void answer.then(
    () => (settled = true),
    () => (settled = true),
  );
  await Promise.resolve();
  expect(settled).toBe(false);
  jest.advanceTimersByTime(1);
  const err = (await answer.catch((e: unknown) => e)) as WeftError;
  expect(WeftError.is(err)).toBe(true);
  expect(err.code).toBe("NOT_ACKNOWLEDGED");
  expect(err.details.workflowId).toBe("order-7");
  expect(err.message).toMatch(/within 1000 ms .*workflowId order-7, which is recorded once/);
  // A start is sent again by its workflow ID alone.
  expect(err.message).not.toContain("requestId");
  // The send fails later: no unhandled rejection (Jest would fail the test on one).
  send.reject(new Error("broker gone"));
  await Promise.resolve();
});

it("answers NOT_ACKNOWLEDGED when the send fails, naming a signal's request ID", async () => {
  const send = deferred();
  const answer = acknowledgedWithin(send.promise, 1_000, signalCommand);
  send.reject(new Error("Request Produce(key: 0, version: 7) timed out"));
  const err = (await answer.catch((e: unknown) => e)) as WeftError;
  expect(err.code).toBe("NOT_ACKNOWLEDGED");
  const requestId = (signalCommand.body as { requestId: string }).requestId;
  expect(err.details).toEqual({ workflowId: "order-7", requestId });
  expect(err.message).toContain("Kafka refused the command: Request Produce");
  expect(err.message).toContain(`requestId ${requestId}`);
});

it("passes a WeftError of the send through as it is", async () => {
  const refused = new WeftError("INVALID_INPUT", "too large");
  await expect(acknowledgedWithin(Promise.reject(refused), 1_000, startCommand)).rejects.toBe(
    refused,
  );
});
