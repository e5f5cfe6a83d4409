import type { WeftConfig } from "../../core/config";
import type { AttemptRef } from "../../workers/attempt";
import { attemptPath } from "../../workers/lease-store";

/** Redis keys workers use; all start with the topic prefix so deployments can share a Redis. */
export const workerKeys = {
  /** Set once the attempt's result was reported; stops re-running it. */
  done: (config: WeftConfig, ref: AttemptRef) => `${config.topicPrefix}:done:${attemptPath(ref)}`,
  /** Held while a worker runs the attempt; stops two workers running it at once. */
  lease: (config: WeftConfig, ref: AttemptRef) => `${config.topicPrefix}:lease:${attemptPath(ref)}`,
};
