import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { workerKeys } from "./redis-keys";

export const WORKER_BEAT_INTERVAL_MS = 2000;
export const WORKER_STATUS_TTL_SECONDS = 30;

export interface WorkerStatusSource {
  readonly workerId: string;
  readonly queues: readonly string[];
  readonly startedAt: number;
  inFlight(): number;
}

/**
 * Publishes a worker's status to Redis: a hash `<prefix>:worker:<id>` that expires unless
 * refreshed, and membership of the set `<prefix>:workers`.
 */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly config: WeftConfig,
    private readonly source: WorkerStatusSource,
    private readonly log: Logger,
    private readonly intervalMs = WORKER_BEAT_INTERVAL_MS,
  ) {}

  /** Beats once now, then every interval. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops beating and removes the worker's status. Never rejects. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.beating) await this.beating;
    try {
      await this.redis
        .multi()
        .del(workerKeys.worker(this.config, this.source.workerId))
        .srem(workerKeys.workers(this.config), this.source.workerId)
        .exec();
    } catch (err) {
      this.log.warn({ err }, "could not remove the worker status");
    }
  }

  beat(): Promise<void> {
    this.beating ??= this.write().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async write(): Promise<void> {
    const key = workerKeys.worker(this.config, this.source.workerId);
    try {
      await this.redis
        .multi()
        .hset(key, {
          workerId: this.source.workerId,
          host: hostname(),
          pid: String(process.pid),
          queues: this.source.queues.join(","),
          inFlight: String(this.source.inFlight()),
          startedAt: String(this.source.startedAt),
          lastBeat: String(Date.now()),
        })
        .expire(key, WORKER_STATUS_TTL_SECONDS)
        .sadd(workerKeys.workers(this.config), this.source.workerId)
        .exec();
      if (this.failing) this.log.info("worker status written again");
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err }, "could not write the worker status");
      this.failing = true;
    }
  }
}
