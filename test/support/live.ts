/**
 * Live emitters over Redis for the API servers a test file builds by hand (`createApiServer`
 * takes one from its caller, as the api role gives it the backends'): closed after the file.
 */
import { createLiveEmitter } from "../../adapters/redis/live-emitter";
import type { WeftConfig } from "../../core/config";
import type { Logger } from "../../core/logger";
import { closeLiveEmitter, type LiveEmitter } from "../../projections/live-changes";

const opened: LiveEmitter[] = [];

afterAll(async () => {
  await Promise.all(opened.splice(0).map((emitter) => closeLiveEmitter(emitter)));
});

export function redisLive(config: WeftConfig, logger: Logger): LiveEmitter {
  const emitter = createLiveEmitter(config, logger);
  opened.push(emitter);
  return emitter;
}
