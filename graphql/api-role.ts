import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { KafkaPort } from "../transport/port";
import type { Registry } from "prom-client";
import type { WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { untilAvailable } from "../core/until-available";
import { CommandProducer } from "../producers/command-producer";
import { closeLiveEmitter } from "../projections/live-changes";
import { migrate } from "../projections/migrate";
import type { ReadSideParts } from "../adapters/read-side-backends";
import { ConsumerLagReader } from "../transport/consumer-lag";
import { ensureTopics, withAdmin } from "../transport/topics";
import { apiLimitsFromEnv, type ApiLimits } from "./api-limits";
import { ApiAuth, tokensFromEnv, type ApiTokens } from "./auth";
import { accessLogFromEnv } from "./access-log";
import { ReadinessChecks } from "./readiness-plugin";
import { browserPolicyFromEnv, guardListener, type BrowserPolicy } from "./browser-guard";
import { metricsTokenFromEnv } from "./metrics-plugin";
import { createApiServer } from "./server";
import { startingHandler } from "./starting-handler";
import type { TriggerDefinition } from "../triggers/definition";
import type { TriggerCounters } from "../triggers/trigger-counters";
import { hookRequestsPerMinuteFromEnv } from "../triggers/webhook-plugin";

export const DEFAULT_API_PORT = 8080;
export const DEFAULT_API_HOST = "127.0.0.1";

export interface ApiListenOptions {
  /** Default: `PORT`, else 8080. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Bearer tokens; default `WEFT_API_TOKENS` / `WEFT_API_READ_TOKENS`, else none (open). */
  tokens?: ApiTokens;
  /** Limits given here win over `WEFT_GRAPHQL_*`; the rest keep their defaults. */
  limits?: Partial<ApiLimits>;
  /** Allowed Host and Origin values; default `WEFT_ALLOWED_HOSTS` / `WEFT_ALLOWED_ORIGINS`. */
  browser?: BrowserPolicy;
  /** Default `WEFT_METRICS_TOKEN`. */
  metricsToken?: string;
  /**
   * Log every request (fastify's `incoming request` / `request completed` at info); errors are
   * logged either way. Default `WEFT_ACCESS_LOG` (1/true or 0/false), else on.
   */
  accessLog?: boolean;
}

export interface ApiRole {
  readonly server: FastifyInstance;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * The API role of a Weft process. It listens at once, so that `/healthz` and `/readyz` answer
 * while it starts (GraphQL answers 503 UNAVAILABLE meanwhile, see startingHandler); then,
 * waiting with backoff while a dependency is unreachable (`/readyz` names it): Redis answers
 * (for the migration lock, /readyz and live updates), the read-model schema is migrated
 * (explicitly, under the Redis migration lock and the advisory lock, as the projector role
 * does), the topics exist and the command producer is connected; then the full server takes
 * over the port. Only a configuration error (PORT, tokens, DATABASE_URL, a schema newer than
 * this Weft) or a port that cannot be bound fails it; `signal` ends a start that still waits
 * (RoleStoppedError). The read side's adapters (`readSide`) come from the backends: without
 * Redis (embedded mode) /readyz checks none.
 */
export async function startApiRole(options: {
  config: WeftConfig;
  kafka: KafkaPort;
  logger: Logger;
  listen?: ApiListenOptions;
  env?: NodeJS.ProcessEnv;
  /** Metrics of the roles running in this process, served with the API's at /metrics. */
  metrics?: Registry;
  /** The read side's adapters, from the backends. */
  readSide: ReadSideParts;
  /** The process's readiness: /readyz also fails while another role of the process waits. */
  readiness?: Readiness;
  signal?: AbortSignal;
  /** Triggers of this process: webhooks are served at /hooks/<name>, all are listed. */
  triggers?: { definitions: readonly TriggerDefinition[]; counters: TriggerCounters };
}): Promise<ApiRole> {
  const { config, kafka, logger } = options;
  const log = logger.child({ role: "api" });
  const parts = options.readSide;
  const env = options.env ?? process.env;
  const port = options.listen?.port ?? portFromEnv(env);
  const auth = new ApiAuth(options.listen?.tokens ?? tokensFromEnv(env));
  const host = options.listen?.host ?? DEFAULT_API_HOST;
  const readiness = options.readiness ?? new Readiness();
  const limits = apiLimitsFromEnv(env, options.listen?.limits);
  const browser = options.listen?.browser ?? browserPolicyFromEnv(env);
  const metricsToken = options.listen?.metricsToken ?? metricsTokenFromEnv(env);
  const accessLog = options.listen?.accessLog ?? accessLogFromEnv(env) ?? true;
  const triggers = options.triggers && {
    triggers: options.triggers.definitions,
    counters: options.triggers.counters,
    requestsPerMinute: hookRequestsPerMinuteFromEnv(env),
  };
  const db = parts.openDatabase({ applicationName: `weft api ${config.clientId}` });
  const commands = new CommandProducer(kafka, config);
  // For /readyz; ioredis reconnects on its own from here on.
  const redis = parts.readinessRedis();
  const redisConnecting = redis?.connect().catch(() => undefined);
  const live = parts.live();
  const consumerLag = new ConsumerLagReader({ kafka, config, pool: db, logger });
  const checks = new ReadinessChecks({ db, kafka, redis, readiness });
  // While it starts, the port answers behind the same Host/Origin guard, and serves /metrics
  // only where they need no token.
  let serve: RequestListener = guardListener(
    startingHandler({
      checks,
      readiness,
      metrics: metricsToken || auth.enabled ? undefined : options.metrics,
      log,
    }),
    { policy: browser, authEnabled: auth.enabled },
  );
  const http = createServer((request, response) => serve(request, response));
  let server: FastifyInstance | undefined;
  const closeAll = async () => {
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    await server?.close().catch(() => undefined);
    http.closeAllConnections();
    await closed;
    await checks.close().catch(() => undefined);
    await consumerLag.close().catch(() => undefined);
    await commands.close().catch(() => undefined);
    if (live.owned) await closeLiveEmitter(live.emitter);
    await redis?.quit().catch(() => redis.disconnect());
    await db.close();
  };
  try {
    const address = await listen(http, port, host);
    log.info({ address }, "API listening; /healthz and /readyz answer while it starts");
    const wait = { role: "api", log, readiness, signal: options.signal };
    if (redis) {
      await redisConnecting;
      await untilAvailable(wait, "redis", "reach Redis", () => redis.ping());
    }
    // The lock's errors name Redis; anything else here is PostgreSQL's.
    await untilAvailable(wait, "postgres", "migrate the read models", () =>
      parts.withMigrationLock((lock) => migrate(db, { logger, lock })),
    );
    await untilAvailable(wait, "kafka", "create the topics", () =>
      withAdmin(kafka, (admin) => ensureTopics(admin, config)),
    );
    await untilAvailable(wait, "kafka", "connect the command producer", () => commands.connect());
    let handler: RequestListener | undefined;
    server = await createApiServer({
      config,
      db,
      logger,
      commands,
      metrics: options.metrics,
      auth,
      lag: consumerLag,
      kafka,
      redis,
      live: live.emitter,
      limits,
      browser,
      metricsToken,
      accessLog,
      triggers,
      readiness: checks,
      serverFactory: (fastifyHandler) => {
        handler = fastifyHandler;
        return http;
      },
    });
    if (!handler) throw new Error("fastify did not take the server");
    serve = handler;
    log.info({ address, auth: auth.enabled ? "bearer tokens" : "open" }, "API serving");
    const started = server;
    return { server: started, address, stop: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Listens on `host:port`; resolves with `http://host:port` (the bound port when 0). */
function listen(http: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => {
      http.off("error", reject);
      const bound = (http.address() as AddressInfo).port;
      resolve(`http://${host.includes(":") ? `[${host}]` : host}:${bound}`);
    });
  });
}

function portFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.PORT;
  if (raw === undefined || raw === "") return DEFAULT_API_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}
