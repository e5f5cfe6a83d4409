import type { WeftConfig } from "../core/config";

/** Identifies one attempt of one step. */
export interface AttemptRef {
  readonly workflowId: string;
  readonly stepSeq: number;
  readonly attempt: number;
}

function attemptPath(ref: AttemptRef): string {
  return `${ref.workflowId}/${ref.stepSeq}/${ref.attempt}`;
}

/** Redis keys workers use; all start with the topic prefix so deployments can share a Redis. */
export const workerKeys = {
  /** Set once the attempt's result was reported; stops re-running it. */
  done: (config: WeftConfig, ref: AttemptRef) => `${config.topicPrefix}:done:${attemptPath(ref)}`,
  /** Held while a worker runs the attempt; stops two workers running it at once. */
  lease: (config: WeftConfig, ref: AttemptRef) => `${config.topicPrefix}:lease:${attemptPath(ref)}`,
  /** Hash describing a live worker; expires when the worker stops beating. */
  worker: (config: WeftConfig, workerId: string) => `${config.topicPrefix}:worker:${workerId}`,
  /** Set of worker IDs that announced themselves (check the hash to see if one is alive). */
  workers: (config: WeftConfig) => `${config.topicPrefix}:workers`,
};
