import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { KafkaPort } from "../transport/port";
import type { Registry } from "prom-client";
import type { WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import type { Logger } from "../core/logger";
import { CommandProducer } from "../producers/command-producer";
import { closeLiveEmitter } from "../projections/live-changes";
import { migrate } from "../projections/migrate";
import { RedisMigrationLock } from "../projections/migration-lock";
import { readSideParts, type ReadSideBackends } from "../projections/read-side-backends";
import { ConsumerLagReader } from "../transport/consumer-lag";
import { ensureTopics, withAdmin } from "../transport/kafka";
import { apiLimitsFromEnv, type ApiLimits } from "./api-limits";
import { ApiAuth, tokensFromEnv, type ApiTokens } from "./auth";
import { browserPolicyFromEnv, type BrowserPolicy } from "./browser-guard";
import { metricsTokenFromEnv } from "./metrics-plugin";
import { createApiServer } from "./server";

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
}

export interface ApiRole {
  readonly server: FastifyInstance;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * The API role of a Weft process: topics ensured, the read-model schema migrated (explicitly,
 * under the Redis migration lock and the advisory lock, as the projector role does), a command
 * producer, a Redis client and a consumer-lag reader (for /readyz and /metrics), then the
 * server listening. `backends` swaps the read-side parts; with `redis: false` (embedded mode)
 * no Redis client is made.
 */
export async function startApiRole(options: {
  config: WeftConfig;
  kafka: KafkaPort;
  logger: Logger;
  listen?: ApiListenOptions;
  env?: NodeJS.ProcessEnv;
  /** Metrics of the roles running in this process, served with the API's at /metrics. */
  metrics?: Registry;
  backends?: ReadSideBackends;
}): Promise<ApiRole> {
  const { config, kafka, logger } = options;
  const parts = readSideParts(config, logger, options.backends);
  const env = options.env ?? process.env;
  const port = options.listen?.port ?? portFromEnv(env);
  const auth = new ApiAuth(options.listen?.tokens ?? tokensFromEnv(env));
  const host = options.listen?.host ?? DEFAULT_API_HOST;
  const limits = apiLimitsFromEnv(env, options.listen?.limits);
  const browser = options.listen?.browser ?? browserPolicyFromEnv(env);
  const metricsToken = options.listen?.metricsToken ?? metricsTokenFromEnv(env);
  await withAdmin(kafka, (admin) => ensureTopics(admin, config));
  const db = parts.openDatabase({ applicationName: `weft api ${config.clientId}` });
  const commands = new CommandProducer(kafka, config);
  // For the migration lock and /readyz; without an offline queue a PING fails at once while
  // Redis is unreachable.
  const redis = parts.redis
    ? new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false })
    : null;
  redis?.on("error", (err: unknown) => logger.debug({ err }, "Redis connection error (api)"));
  const live = parts.live();
  const consumerLag = new ConsumerLagReader({ kafka, config, pool: db, logger });
  let server: FastifyInstance | undefined;
  const closeAll = async () => {
    await consumerLag.close().catch(() => undefined);
    await commands.close().catch(() => undefined);
    if (live.owned) await closeLiveEmitter(live.emitter);
    await redis?.quit().catch(() => redis.disconnect());
    await db.close();
  };
  try {
    await redis?.connect();
    const given = options.backends?.withMigrationLock;
    if (given || !redis) await parts.withMigrationLock((lock) => migrate(db, { logger, lock }));
    // By default the Redis migration lock goes through the client /readyz uses.
    else await migrate(db, { logger, lock: new RedisMigrationLock(redis, config, logger) });
    await commands.connect();
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
    });
    const address = await server.listen({ port, host });
    logger.info({ address, auth: auth.enabled ? "bearer tokens" : "open" }, "API listening");
    const started = server;
    return {
      server: started,
      address,
      async stop() {
        await started.close();
        await closeAll();
      },
    };
  } catch (err) {
    await server?.close().catch(() => undefined);
    await closeAll();
    throw err;
  }
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
