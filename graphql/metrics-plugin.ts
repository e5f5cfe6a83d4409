import type { FastifyPluginAsync } from "fastify";
import { Histogram, type Registry } from "prom-client";

export interface MetricsPluginOptions {
  /** Every metric of this process: the API's own plus those of the roles it runs. */
  registry: Registry;
}

/** `/metrics` in the Prometheus text format, and the latency of every API request. */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = (app, { registry }) => {
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
  app.get("/metrics", async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return Promise.resolve();
};
