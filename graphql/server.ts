import type { ReadModelDb } from "../projections/read-model-db";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerFactory,
} from "fastify";
import fastifyPlugin from "fastify-plugin";
import type { Redis } from "ioredis";
import { Registry } from "prom-client";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { CommandProducer } from "../producers/command-producer";
import type { RunCheckOptions } from "../producers/run-check";
import type { LiveEmitter } from "../projections/live-changes";
import type { KafkaPort } from "../transport/port";
import { DEFAULT_API_LIMITS, type ApiLimits } from "./api-limits";
import { ApiAuth } from "./auth";
import { browserGuardPlugin, DEFAULT_BROWSER_POLICY, type BrowserPolicy } from "./browser-guard";
import { registerConsumerLagGauge } from "./consumer-lag-gauge";
import { dashboardPlugin } from "./dashboard-plugin";
import { graphqlPlugin } from "./graphql-plugin";
import { healthPlugin } from "./health-plugin";
import { metricsPlugin } from "./metrics-plugin";
import { readinessPlugin, type ReadinessChecks } from "./readiness-plugin";
import type { LagSource } from "./stats";
import { webhookPlugin, type WebhookOptions } from "../triggers/webhook-plugin";

export interface ApiServerOptions {
  config: WeftConfig;
  /** The read models (already migrated): the caller owns it and ends it. */
  db: ReadModelDb;
  logger: Logger;
  /** A connected producer: the caller owns it and closes it. */
  commands: Pick<CommandProducer, "send" | "partitionEnd" | "partitionFor">;
  /**
   * How long a signal or cancel to a run the read models do not show waits for the projector
   * to reach the end of the run's commands partition; default RUN_CHECK_WAIT_MS.
   */
  runCheck?: RunCheckOptions;
  /** Served at /metrics; default: a registry of this server's own metrics. */
  metrics?: Registry;
  /** Bearer tokens; default: none, every request may do everything. */
  auth?: ApiAuth;
  /**
   * Consumer lag (a `ConsumerLagReader`), for the stats' backlogs and served at /metrics as
   * `weft_consumer_lag`; the caller closes it.
   */
  lag?: LagSource;
  /** For /readyz: the caller owns them and closes them. */
  kafka?: KafkaPort;
  /** `null`: the installation has no Redis (embedded mode); /readyz does not check one. */
  redis?: Redis | null;
  /** Live updates from the projector, from the backends (the caller closes it). */
  live: LiveEmitter;
  /**
   * The checks /readyz answers with (the caller closes them); default checks of `db`,
   * `kafka` and `redis`.
   */
  readiness?: ReadinessChecks;
  /**
   * Serve on a server the caller made (and listens with, and closes): the api role answers
   * on its port while it still starts, then hands the server to fastify.
   */
  serverFactory?: FastifyServerFactory;
  /** What a GraphQL document, a client and a WebSocket may cost; default DEFAULT_API_LIMITS. */
  limits?: ApiLimits;
  /** Which Host and Origin values are answered; default loopback names only (with auth off). */
  browser?: BrowserPolicy;
  /** A bearer token that may read /metrics. */
  metricsToken?: string;
  /** Log every request at info (fastify's access log); default true. Errors are logged anyway. */
  accessLog?: boolean;
  /** Triggers: webhooks at POST /hooks/<name>, and the `triggers` query. Default none. */
  triggers?: WebhookOptions;
}

/** Fastify's request logging without the two info lines every request writes. */
class ErrorsOnlyLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(...args: Parameters<LogController["requestCompleted"]>): void {
    if (args[0]) super.requestCompleted(...args);
  }
}

/** Bodies above this are refused with 413; inputs are limited to 512 KiB (INVALID_INPUT) inside. */
const BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * The HTTP API: GraphQL at /graphql (subscriptions over WebSocket), /healthz, /readyz and
 * /metrics. Returns the fastify instance unstarted: the
 * caller listens (or injects, in tests) and closes it; nothing else starts here.
 */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const { config, db, commands } = options;
  const loggerInstance: FastifyBaseLogger = options.logger.child({
    component: "api",
    clientId: options.config.clientId,
  });
  const app = Fastify({
    loggerInstance,
    ...(options.accessLog === false ? { logController: new ErrorsOnlyLogController() } : {}),
    bodyLimit: BODY_LIMIT_BYTES,
    ...(options.serverFactory ? { serverFactory: options.serverFactory } : {}),
  });
  const auth = options.auth ?? new ApiAuth();
  // First: a foreign page or a rebound DNS name gets nothing, not even /healthz.
  await app.register(browserGuardPlugin, {
    policy: options.browser ?? DEFAULT_BROWSER_POLICY,
    authEnabled: auth.enabled,
  });
  await app.register(healthPlugin);
  await app.register(
    readinessPlugin,
    options.readiness
      ? { checks: options.readiness }
      : { db, kafka: options.kafka, redis: options.redis },
  );
  const registry = options.metrics ?? new Registry();
  if (options.lag) registerConsumerLagGauge(registry, options.lag, options.logger);
  // Not encapsulated: its hook times every route of the server.
  await app.register(fastifyPlugin(metricsPlugin), {
    registry,
    token: options.metricsToken,
    auth,
  });
  await app.register(graphqlPlugin, {
    config,
    db,
    commands,
    runCheck: options.runCheck,
    logger: options.logger,
    auth,
    lag: options.lag,
    live: options.live,
    limits: options.limits ?? DEFAULT_API_LIMITS,
    triggers: options.triggers,
    registry,
  });
  if (options.triggers) await app.register(webhookPlugin, { ...options.triggers, commands });
  await app.register(dashboardPlugin, {});
  await app.ready();
  return app;
}
