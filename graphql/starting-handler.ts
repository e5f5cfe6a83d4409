import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "../core/logger";
import type { Readiness } from "../core/readiness";
import type { ReadinessChecks } from "./readiness-plugin";

/**
 * What the api role's port answers while the role still waits for Kafka, Redis or
 * PostgreSQL: `/healthz` 200 (the process is alive: do not restart it), `/readyz` 503 with
 * the same checks the started API runs and what the roles wait for, `/metrics` the process's
 * registry, and anything else 503 with a GraphQL error coded UNAVAILABLE (and Retry-After).
 */
export function startingHandler(options: {
  checks: ReadinessChecks;
  readiness: Readiness;
  metrics?: Registry;
  log: Logger;
}): RequestListener {
  const { checks, readiness, metrics, log } = options;
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0];
    const get = request.method === "GET";
    if (get && path === "/healthz") {
      json(response, 200, { status: "ok" });
    } else if (get && path === "/readyz") {
      checks.report().then(
        (report) => {
          const starting = [...new Set([...(report.starting ?? []), "api"])].sort();
          json(response, 503, { ...report, ready: false, starting });
        },
        (err: unknown) => json(response, 503, { ready: false, error: (err as Error).message }),
      );
    } else if (get && path === "/metrics" && metrics) {
      metrics.metrics().then(
        (text) => response.writeHead(200, { "content-type": metrics.contentType }).end(text),
        (err: unknown) => {
          log.warn({ err }, "could not collect metrics");
          response.writeHead(500, { "content-type": "text/plain" }).end("could not collect\n");
        },
      );
    } else {
      const missing = readiness.snapshot().missing;
      const waits = missing.length > 0 ? ` for ${missing.join(", ")}` : "";
      response.setHeader("retry-after", "1");
      json(response, 503, {
        data: null,
        errors: [
          {
            message: `the Weft API is starting: it waits${waits} (GET /readyz says why); try again shortly`,
            extensions: { code: "UNAVAILABLE" },
          },
        ],
      });
    }
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response
    .writeHead(status, { "content-type": "application/json; charset=utf-8" })
    .end(JSON.stringify(body));
}
