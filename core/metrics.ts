import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "./logger";
import { roleReadinessBody, type Readiness } from "./readiness";

const DLQ_RECORDS = "weft_dlq_records_total";

/**
 * `weft_dlq_records_total` in `registry`: deciders and workers both send records to the DLQ,
 * and when they share a process registry they share this one counter (a registry refuses a
 * name registered twice).
 */
export function deadLetterCounter(registry: Registry): Counter {
  const existing = registry.getSingleMetric(DLQ_RECORDS);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name: DLQ_RECORDS,
    help: "Records sent to the dead-letter topic",
    registers: [registry],
  });
}

/**
 * `weft_dependency_waits{role,dependency}`: how many things each role of the process waits
 * for right now (read on scrape); 0 for every pair once everything answers.
 */
export function registerDependencyWaitGauge(registry: Registry, readiness: Readiness): void {
  new Gauge({
    name: "weft_dependency_waits",
    help: "Things a role of this process waits for, by the dependency it waits for (Kafka, Redis, PostgreSQL)",
    labelNames: ["role", "dependency"],
    registers: [registry],
    collect() {
      this.reset();
      for (const wait of readiness.snapshot().waiting) {
        this.inc({ role: wait.role, dependency: wait.dependency });
      }
    },
  });
}

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464`. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A bare node:http server on 127.0.0.1 serving `registry` at /metrics, for processes that do
 * not run the API (which serves /metrics itself). Given the process's readiness it also
 * serves `/healthz` (200) and `/readyz`: 200 when no role starts or waits, else 503 naming
 * what the roles wait for (see `roleReadinessBody`).
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  logger: Logger,
  readiness?: Readiness,
): Promise<MetricsServer> {
  const log = logger.child({ component: "metrics" });
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (readiness && request.method === "GET" && (path === "/readyz" || path === "/healthz")) {
      const { ready, body } =
        path === "/readyz" ? roleReadinessBody(readiness) : { ready: true, body: { status: "ok" } };
      response
        .writeHead(ready ? 200 : 503, { "content-type": "application/json; charset=utf-8" })
        .end(JSON.stringify(body));
      return;
    }
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => {
        log.warn({ err }, "could not collect metrics");
        response.writeHead(500, { "content-type": "text/plain" }).end("could not collect\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  const address = `http://127.0.0.1:${bound}`;
  log.info({ address }, "metrics listening");
  return {
    address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
