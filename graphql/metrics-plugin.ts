import type { FastifyPluginAsync } from "fastify";
import { Histogram, type Registry } from "prom-client";
import { ConfigError } from "../core/errors";
import { ApiAuth } from "./auth";
import { sendCodedError } from "./http-errors";

export interface MetricsPluginOptions {
  /** Every metric of this process: the API's own plus those of the roles it runs. */
  registry: Registry;
  /** `WEFT_METRICS_TOKEN`: a bearer token that may read /metrics (and nothing else). */
  token?: string;
  /** The API's tokens: with them configured, /metrics needs a token too. */
  auth?: ApiAuth;
}

const MIN_TOKEN_LENGTH = 16;

/** `WEFT_METRICS_TOKEN`, or undefined when unset. */
export function metricsTokenFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.WEFT_METRICS_TOKEN?.trim();
  if (!token) return undefined;
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(`WEFT_METRICS_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  return token;
}

/**
 * `/metrics` in the Prometheus text format, and the latency of every API request. The metrics
 * name every workflow type, step and queue: with a metrics token or API tokens configured,
 * reading them needs one of those tokens (Prometheus: `authorization: { credentials: … }`).
 */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = (app, options) => {
  const { registry } = options;
  const metricsAuth = options.token ? new ApiAuth({ admin: [], read: [options.token] }) : undefined;
  const apiAuth = options.auth?.enabled ? options.auth : undefined;
  const allowed = (authorization: unknown) =>
    (!metricsAuth && !apiAuth) ||
    (metricsAuth !== undefined && metricsAuth.accessOf(authorization) !== "none") ||
    (apiAuth !== undefined && apiAuth.accessOf(authorization) !== "none");
  const latency = new Histogram({
    name: "weft_api_request_duration_seconds",
    help: "API request latency, by route and status code",
    labelNames: ["route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    if (route !== "/metrics") {
      latency.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    }
    done();
  });
  app.get("/metrics", async (request, reply) => {
    if (!allowed(request.headers.authorization)) {
      reply.header("www-authenticate", 'Bearer realm="weft-metrics"');
      return sendCodedError(
        reply,
        401,
        "UNAUTHENTICATED",
        "/metrics needs a bearer token: WEFT_METRICS_TOKEN or an API token",
      );
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return Promise.resolve();
};
