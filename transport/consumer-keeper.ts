import { backoffMs, DEPENDENCY_BACKOFF, sleep, type Backoff } from "../core/backoff";
import type { Logger } from "../core/logger";
import { Readiness } from "../core/readiness";
import { dependencyOf, untilAvailable } from "../core/until-available";
import type { PortConsumer } from "./port";

export interface ConsumerKeeperOptions {
  consumer: PortConsumer;
  /** Connects, subscribes and runs the consumer; called again to restart it. */
  start: () => Promise<void>;
  /** The role and what this consumer is, for logs and /readyz (e.g. "consume tasks of q"). */
  role: string;
  what: string;
  log: Logger;
  readiness?: Readiness;
  /** Aborted when the role stops: no more restarts. */
  signal: AbortSignal;
  backoff?: Backoff;
}

/**
 * Shows on /readyz, under `key`, a consumer of `role` waiting for the log after its
 * `failures`-th crash (since the wait began), until the caller clears the key.
 */
export function showCrashed(
  readiness: Readiness,
  key: symbol,
  consumer: { role: string; what: string },
  error: Error,
  failures: number,
): void {
  readiness.wait(key, {
    role: consumer.role,
    dependency: dependencyOf(error, "kafka"),
    action: consumer.what,
    since: readiness.get(key)?.since ?? Date.now(),
    failures,
    error: error.message,
  });
}

/**
 * Keeps a consumer consuming. kafkajs restarts a crashed consumer by itself only when the
 * crash was retriable; after any other crash (`restart: false`, e.g. a heartbeat refused
 * with "the coordinator is not aware of this member") it disconnects the consumer and leaves
 * it so, silently. The keeper restarts such a consumer with a capped, jittered backoff until
 * it joins its group again, and shows the consumer as waiting for Kafka on /readyz from any
 * crash until the next group join.
 */
export class ConsumerKeeper {
  private readonly key = Symbol("consumer");
  private readonly readiness: Readiness;
  private restarting = false;
  /** A crash came while a restart ran: the restart is not done. */
  private crashedWhileRestarting: { restart: boolean } | undefined;
  private crashes = 0;

  constructor(private readonly options: ConsumerKeeperOptions) {
    this.readiness = options.readiness ?? new Readiness();
    const { consumer } = options;
    consumer.on(consumer.events.CRASH, ({ payload }) => this.onCrash(payload));
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.crashes = 0;
      this.readiness.clear(this.key);
    });
  }

  /** The first start: tried until it works (or the role stops). */
  async start(): Promise<void> {
    const { role, log, readiness, signal, backoff, what } = this.options;
    await untilAvailable({ role, log, readiness, signal, backoff }, "kafka", what, () =>
      this.options.start(),
    );
  }

  /**
   * Ends the keeping (the role's signal has aborted); the caller then disconnects the
   * consumer. A restart still in flight disconnects it again once it settles.
   */
  stop(): void {
    this.readiness.clear(this.key);
  }

  private onCrash(payload: { error: Error; restart: boolean }): void {
    const { role, what, log, signal } = this.options;
    if (signal.aborted) return;
    this.crashes += 1;
    showCrashed(this.readiness, this.key, { role, what }, payload.error, this.crashes);
    if (this.restarting) {
      this.crashedWhileRestarting = { restart: payload.restart };
      return;
    }
    // kafkajs restarts it itself.
    if (payload.restart) return;
    log.warn(
      { err: payload.error, what },
      "the consumer crashed and kafkajs will not restart it; restarting it with backoff",
    );
    this.restarting = true;
    void this.restart().finally(() => {
      this.restarting = false;
    });
  }

  private async restart(): Promise<void> {
    const { log, signal, what } = this.options;
    const backoff = this.options.backoff ?? DEPENDENCY_BACKOFF;
    for (let tries = 1; !signal.aborted; tries++) {
      await sleep(backoffMs(backoff, tries), signal);
      if (signal.aborted) return;
      this.crashedWhileRestarting = undefined;
      try {
        await this.options.start();
      } catch (err) {
        log.warn({ err, what, tries }, "could not restart the consumer; trying again");
        continue;
      } finally {
        // Stopped meanwhile: the role's disconnect may have come before this start ended.
        if (signal.aborted) await this.options.consumer.disconnect().catch(() => undefined);
      }
      const crashed = this.crashedWhileRestarting as { restart: boolean } | undefined;
      // Running, or in kafkajs's own hands again.
      if (!crashed || crashed.restart) {
        log.info({ what, tries }, "consumer restarted");
        return;
      }
    }
  }
}
