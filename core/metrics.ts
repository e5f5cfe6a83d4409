import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "./logger";

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

export interface MetricsServer {
  /** e.g. `http://127.0.0.1:9464`. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A bare node:http server on 127.0.0.1 serving `registry` at /metrics, for processes that do
 * not run the API (which serves /metrics itself).
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  logger: Logger,
): Promise<MetricsServer> {
  const log = logger.child({ component: "metrics" });
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
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
