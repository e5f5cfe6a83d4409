/**
 * Issue rows 4 and 8, over HTTP: with auth off (the default) a page on another site, or one
 * reaching the API through a DNS name it controls (DNS rebinding), gets nothing; the dashboard
 * carries security headers; /metrics can need a token. Through real HTTP on both backends.
 * (The WebSocket side of row 4 is in websocket.test.ts.)
 */
import { Registry } from "prom-client";
import { ConfigError } from "../../core/errors";
import { apiLimitsFromEnv } from "../../graphql/api-limits";
import { readSideParts } from "../../adapters/read-side-backends";
import { startApiRole } from "../../graphql/api-role";
import { browserPolicyFromEnv } from "../../graphql/browser-guard";
import { metricsTokenFromEnv } from "../../graphql/metrics-plugin";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { freePort } from "../support/tcp-proxy";
import { kafkaFor } from "../support/weft";
import {
  AUTH_OFF,
  AUTH_ON,
  BACKENDS,
  capturingLogger,
  codesOf,
  httpRaw,
  READER,
  startTestApi,
  type TestApi,
} from "./harness";

const MUTATION = JSON.stringify({
  query: `mutation { cancelWorkflow(workflowId: "browser-1") { accepted } }`,
});
const METRICS_TOKEN = "metrics-token-0123456789abcdef";

describe.each(BACKENDS)("on the %s backend, auth off", (backend) => {
  let api: TestApi;
  let port: string;

  beforeAll(async () => {
    api = await startTestApi(backend);
    port = new URL(api.address).port;
  });

  afterAll(async () => {
    await api?.stop();
  });

  it("a foreign Host (DNS rebinding) is refused on every route", async () => {
    const host = `rebind.evil.example:${port}`;
    for (const [method, path, body] of [
      ["POST", "/graphql", MUTATION],
      ["GET", "/graphql?query=%7Bstats%7Bat%7D%7D", undefined],
      ["GET", "/metrics", undefined],
      ["GET", "/readyz", undefined],
      ["GET", "/", undefined],
    ] as const) {
      const res = await httpRaw(api.address, method, path, { host }, body);
      expect([path, res.status, codesOf(res.body)]).toEqual([path, 403, ["HOST_NOT_ALLOWED"]]);
    }
  });

  it("loopback names are answered", async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "LOCALHOST"]) {
      const res = await httpRaw(api.address, "GET", "/healthz", { host });
      expect([host, res.status]).toEqual([host, 200]);
    }
  });

  it("a page on another site cannot call the API (row 4)", async () => {
    for (const origin of ["https://evil.example", "null", "http://localhost.evil.example"]) {
      const res = await httpRaw(api.address, "POST", "/graphql", { origin }, MUTATION);
      expect([origin, res.status, codesOf(res.body)]).toEqual([
        origin,
        403,
        ["ORIGIN_NOT_ALLOWED"],
      ]);
      // No CORS headers either.
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    }
  });

  it("a page on a loopback origin (the dashboard, a dev server) can", async () => {
    for (const origin of [
      `http://127.0.0.1:${port}`,
      "http://localhost:5173",
      "http://[::1]:8080",
    ]) {
      const res = await httpRaw(api.address, "POST", "/graphql", { origin }, MUTATION);
      expect([origin, res.status]).toEqual([origin, 200]);
    }
  });

  it("the dashboard carries a strict CSP and refuses to be framed", async () => {
    const res = await httpRaw(api.address, "GET", "/runs");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    // Weft does not terminate TLS: no HSTS, no upgrade of http:// requests.
    expect(res.headers["strict-transport-security"]).toBeUndefined();
    expect(csp).not.toContain("upgrade-insecure-requests");
  });

  it("/metrics is open without tokens", async () => {
    expect((await httpRaw(api.address, "GET", "/metrics")).status).toBe(200);
  });
});

describe.each(BACKENDS)("on the %s backend, allow-lists given", (backend) => {
  let api: TestApi;
  let port: string;

  beforeAll(async () => {
    api = await startTestApi(backend, {
      tokens: AUTH_ON,
      browser: browserPolicyFromEnv({
        WEFT_ALLOWED_HOSTS: "weft.internal",
        WEFT_ALLOWED_ORIGINS: "https://weft.example.com",
      }),
      metricsToken: METRICS_TOKEN,
    });
    port = new URL(api.address).port;
  });

  afterAll(async () => {
    await api?.stop();
  });

  it("are enforced even with auth on, in addition to loopback", async () => {
    const get = (headers: Record<string, string>) =>
      httpRaw(api.address, "GET", "/healthz", headers);
    expect((await get({ host: `weft.internal:${port}` })).status).toBe(200);
    expect((await get({ host: `localhost:${port}` })).status).toBe(200);
    expect((await get({ host: `other.internal:${port}` })).status).toBe(403);
    expect((await get({ origin: "https://weft.example.com" })).status).toBe(200);
    expect((await get({ origin: "https://evil.example" })).status).toBe(403);
  });

  it("row 8: /metrics needs the metrics token or an API token", async () => {
    const metrics = (token?: string) =>
      httpRaw(api.address, "GET", "/metrics", token ? { authorization: `Bearer ${token}` } : {});
    const anonymous = await metrics();
    expect([anonymous.status, codesOf(anonymous.body)]).toEqual([401, ["UNAUTHENTICATED"]]);
    expect(anonymous.body).not.toContain("weft_");
    expect((await metrics("not-a-known-token-at-all")).status).toBe(401);
    const scraped = await metrics(METRICS_TOKEN);
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain("weft_api_request_duration_seconds");
    expect((await metrics(READER)).status).toBe(200);
    // The metrics token reads metrics only.
    const query = await httpRaw(
      api.address,
      "POST",
      "/graphql",
      { authorization: `Bearer ${METRICS_TOKEN}` },
      JSON.stringify({ query: "{ stats { at } }" }),
    );
    expect(codesOf(query.body)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe.each(BACKENDS)("on the %s backend, auth on, no lists", (backend) => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi(backend, { tokens: AUTH_ON });
  });

  afterAll(async () => {
    await api?.stop();
  });

  it("tokens guard the API: any Host and Origin may reach it", async () => {
    const res = await httpRaw(api.address, "GET", "/healthz", {
      host: "weft.example.com",
      origin: "https://tools.example.com",
    });
    expect(res.status).toBe(200);
  });

  it("/metrics needs an API token", async () => {
    expect((await httpRaw(api.address, "GET", "/metrics")).status).toBe(401);
    const read = await httpRaw(api.address, "GET", "/metrics", {
      authorization: `Bearer ${READER}`,
    });
    expect(read.status).toBe(200);
  });
});

it("the settings are validated, and the message names the variable", () => {
  expect(() => browserPolicyFromEnv({ WEFT_ALLOWED_HOSTS: "http://weft.internal:8080" })).toThrow(
    /WEFT_ALLOWED_HOSTS/,
  );
  expect(() => browserPolicyFromEnv({ WEFT_ALLOWED_ORIGINS: "https://weft.example.com/" })).toThrow(
    ConfigError,
  );
  expect(browserPolicyFromEnv({ WEFT_ALLOWED_HOSTS: "*" }).hosts).toBe("*");
  expect(() => metricsTokenFromEnv({ WEFT_METRICS_TOKEN: "short" })).toThrow(/WEFT_METRICS_TOKEN/);
  expect(() => apiLimitsFromEnv({ WEFT_GRAPHQL_MAX_COST: "lots" })).toThrow(
    /WEFT_GRAPHQL_MAX_COST \(maxCost\) must be an integer/,
  );
  expect(apiLimitsFromEnv({ WEFT_GRAPHQL_MAX_DEPTH: "12" }, { maxAliases: 3 })).toMatchObject({
    maxDepth: 12,
    maxAliases: 3,
    maxTokens: 1000,
  });
});

describe("while the api role still starts (PostgreSQL unreachable)", () => {
  it("its port answers behind the same guard, and /metrics only where it needs no token", async () => {
    for (const tokens of [AUTH_OFF, AUTH_ON]) {
      const config = isolatedConfig({
        databaseUrl: `postgres://weft:weft@127.0.0.1:${await freePort()}/weft`,
      });
      const port = await freePort();
      const stop = new AbortController();
      const starting = startApiRole({
        config,
        kafka: kafkaFor(config),
        logger: capturingLogger("warn").logger,
        readSide: readSideParts(config, testLogger(config)),
        listen: { port, tokens },
        env: {},
        metrics: new Registry(),
        signal: stop.signal,
      });
      const stopped = starting.then(
        () => "started",
        (err: unknown) => (err as Error).name,
      );
      try {
        const address = `http://127.0.0.1:${port}`;
        await waitFor("the starting port", async () => {
          const res = await fetch(`${address}/healthz`).catch(() => undefined);
          return res?.status === 200;
        });
        const foreign = await httpRaw(address, "GET", "/readyz", { host: `evil.example:${port}` });
        const metrics = await httpRaw(address, "GET", "/metrics");
        if (tokens === AUTH_OFF) {
          expect([foreign.status, codesOf(foreign.body)]).toEqual([403, ["HOST_NOT_ALLOWED"]]);
          expect(metrics.status).toBe(200);
        } else {
          expect(foreign.status).toBe(503);
          expect([metrics.status, codesOf(metrics.body)]).toEqual([503, ["UNAVAILABLE"]]);
        }
      } finally {
        stop.abort();
        expect(await stopped).not.toBe("started");
      }
    }
  });
});
