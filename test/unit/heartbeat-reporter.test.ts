/**
 * The worker's side of heartbeats: at most one send per half timeout with the latest details,
 * a beat without details keeping pending ones, the worker's own watch, and a failed attempt's
 * last details sent before its report. Under jest's fake clock (Date.now and timers).
 */
import { InvalidInputError } from "../../core/errors";
import { HeartbeatReporter } from "../../workers/heartbeat-reporter";

describe("HeartbeatReporter", () => {
  let sent: (string | null)[];
  let timedOut: number;
  let reporter: HeartbeatReporter;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    sent = [];
    timedOut = 0;
    reporter = new HeartbeatReporter(
      1000,
      (details) => {
        sent.push(details);
        return Promise.resolve();
      },
      () => timedOut++,
    );
  });

  afterEach(async () => {
    await reporter.close(false);
    jest.useRealTimers();
  });

  it("sends the first beat at once, then the latest details once per half timeout", () => {
    reporter.beat({ page: 1 });
    reporter.beat({ page: 2 });
    reporter.beat({ page: 3 });
    expect(sent).toEqual(['{"page":1}']);
    jest.advanceTimersByTime(499);
    expect(sent).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['{"page":1}', '{"page":3}']);
    // Nothing new: nothing sent.
    jest.advanceTimersByTime(500);
    expect(sent).toHaveLength(2);
  });

  it("keeps pending details when a later beat has none", () => {
    reporter.beat({ page: 1 });
    reporter.beat({ page: 2 });
    reporter.beat();
    jest.advanceTimersByTime(500);
    expect(sent).toEqual(['{"page":1}', '{"page":2}']);
  });

  it("times the attempt out a whole timeout after the last beat, not before", () => {
    jest.advanceTimersByTime(900);
    reporter.beat();
    jest.advanceTimersByTime(999);
    expect(timedOut).toBe(0);
    jest.advanceTimersByTime(1);
    expect(timedOut).toBe(1);
  });

  it("sends details not sent yet when the attempt failed, and nothing after it closed", async () => {
    reporter.beat({ page: 1 });
    reporter.beat({ page: 2 });
    await reporter.close(true);
    expect(sent).toEqual(['{"page":1}', '{"page":2}']);
    reporter.beat({ page: 3 });
    jest.advanceTimersByTime(5000);
    expect(sent).toHaveLength(2);
    expect(timedOut).toBe(0);
  });

  it("refuses details that are not JSON or too large, sending nothing", () => {
    expect(() => reporter.beat({ n: 1n })).toThrow(InvalidInputError);
    expect(() => reporter.beat("x".repeat(64 * 1024))).toThrow(/over the limit of 65536/);
    expect(sent).toEqual([]);
  });
});
