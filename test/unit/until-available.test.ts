/** Waiting out a dependency: backoff, what /readyz sees meanwhile, what ends the wait. */
import { backoffMs } from "../../core/backoff";
import { ConfigError, RoleStoppedError, WeftError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { Readiness } from "../../core/readiness";
import { dependencyOf, untilAvailable } from "../../core/until-available";

const log = createLogger("silent");
const fast = { initialMs: 1, maxMs: 4, jitter: 0 };

describe("backoffMs", () => {
  it("doubles from the first delay up to the cap, jittered within its fraction", () => {
    const plain = { initialMs: 250, maxMs: 5000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffMs(plain, n))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
    const jittered = { initialMs: 250, maxMs: 5000, jitter: 0.3 };
    expect(backoffMs(jittered, 50, () => 0)).toBe(3500);
    expect(backoffMs(jittered, 50, () => 0.999999)).toBe(6500);
  });
});

describe("untilAvailable", () => {
  it("tries again after transient failures, shows the wait meanwhile, and clears it", async () => {
    const readiness = new Readiness();
    const seen: unknown[] = [];
    let tries = 0;
    const value = await untilAvailable(
      { role: "worker", log, readiness, backoff: fast },
      "redis",
      "reach Redis",
      () => {
        tries += 1;
        seen.push(readiness.snapshot().waiting.map((w) => ({ ...w, since: 0 })));
        if (tries < 3) return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379"));
        return Promise.resolve("pong");
      },
    );
    expect(value).toBe("pong");
    expect(seen).toEqual([
      [{ role: "worker", dependency: "redis", action: "reach Redis", since: 0, failures: 0 }],
      [
        {
          role: "worker",
          dependency: "redis",
          action: "reach Redis",
          since: 0,
          failures: 1,
          error: "connect ECONNREFUSED 127.0.0.1:6379",
        },
      ],
      [expect.objectContaining({ failures: 2 })],
    ]);
    expect(readiness.snapshot()).toEqual({ starting: [], waiting: [], missing: [], checks: {} });
  });

  it.each([
    ["INVALID_CONFIG", new ConfigError("KAFKA_BROKERS must be host:port")],
    ["SCHEMA_MISMATCH", new WeftError("SCHEMA_MISMATCH", "upgrade Weft")],
    ["a programming error", new TypeError("x is not a function")],
  ])("gives up at once on %s", async (_what, error) => {
    let tries = 0;
    const readiness = new Readiness();
    await expect(
      untilAvailable({ role: "api", log, readiness, backoff: fast }, "postgres", "migrate", () => {
        tries += 1;
        return Promise.reject(error);
      }),
    ).rejects.toBe(error);
    expect(tries).toBe(1);
    expect(readiness.snapshot().waiting).toEqual([]);
  });

  it("ends with STOPPED as soon as the role stops, even while a try hangs", async () => {
    const stop = new AbortController();
    const waiting = untilAvailable(
      { role: "projector", log, signal: stop.signal },
      "kafka",
      "create the topics",
      () => new Promise<never>(() => undefined),
    );
    stop.abort();
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoleStoppedError);
    expect(err).toMatchObject({ code: "STOPPED" });
  });
});

describe("dependencyOf", () => {
  it("blames the dependency the error names, else the one the caller talked to", () => {
    expect(
      dependencyOf(Object.assign(new Error("x"), { name: "KafkaJSConnectionError" }), "postgres"),
    ).toBe("kafka");
    expect(
      dependencyOf(
        new Error("could not reach Redis (REDIS_URL) for the migration lock"),
        "postgres",
      ),
    ).toBe("redis");
    expect(
      dependencyOf(Object.assign(new Error("too many clients"), { severity: "FATAL" }), "redis"),
    ).toBe("postgres");
    expect(dependencyOf(new Error("connect ECONNREFUSED 127.0.0.1:54329"), "postgres")).toBe(
      "postgres",
    );
  });
});
