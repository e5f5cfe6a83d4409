import Redis from "ioredis";
import mqemitterRedis from "mqemitter-redis";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import type { LiveEmitter } from "../../projections/live-changes";

/** An emitter over Redis pub/sub (two connections: one publishes, one subscribes). */
export function createLiveEmitter(config: WeftConfig, logger: Logger): LiveEmitter {
  const emitter = mqemitterRedis({
    pubConn: new Redis(config.redisUrl, { enableAutoPipelining: true }),
    // The ready check (INFO) is not allowed once the connection subscribes; skip it. A
    // SUBSCRIBE sent while Redis is unreachable waits for it instead of failing after a few
    // reconnections: a failed one would never be made again, and the feed would stay deaf.
    subConn: new Redis(config.redisUrl, { enableReadyCheck: false, maxRetriesPerRequest: null }),
  });
  // Live updates are best effort: a Redis outage must never stop projecting or serving.
  // `state` (connection events) is not in the package's types.
  (emitter as unknown as { state: NodeJS.EventEmitter }).state.on("error", (err: unknown) =>
    logger.warn({ err }, "live-update Redis error"),
  );
  return emitter;
}
