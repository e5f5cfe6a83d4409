import { backoffMs, DEPENDENCY_BACKOFF, sleep, type Backoff } from "./backoff";
import { isUnrecoverable, RoleStoppedError } from "./errors";
import type { Logger } from "./logger";
import { Readiness, type Dependency } from "./readiness";

/** How a role waits: who it is, where it reports, what stops it. */
export interface WaitOptions {
  readonly role: string;
  readonly log: Logger;
  /** Where the wait shows (the process's, for /readyz); default a private one. */
  readonly readiness?: Readiness;
  /** Aborted when the role stops: the wait ends with RoleStoppedError. */
  readonly signal?: AbortSignal;
  readonly backoff?: Backoff;
}

/** After the first failure, one warning per this many (the rest are debug lines). */
const WARN_EVERY = 10;

/**
 * Runs `work` until it succeeds. A transient failure (anything but what `isUnrecoverable`
 * names) is logged, shown on /readyz as a wait for `dependency` (or the dependency the error
 * itself names, see `dependencyOf`), and tried again after a capped, jittered backoff; an
 * unrecoverable error is thrown at once. When `signal` aborts, the wait ends at once with
 * RoleStoppedError: a try still running is left to settle on its own, so whatever it opens
 * must be closed by the role's stop.
 */
export async function untilAvailable<T>(
  options: WaitOptions,
  dependency: Dependency,
  action: string,
  work: () => Promise<T>,
): Promise<T> {
  const { role, log, signal } = options;
  const readiness = options.readiness ?? new Readiness();
  const backoff = options.backoff ?? DEPENDENCY_BACKOFF;
  const key = Symbol(action);
  const since = Date.now();
  readiness.wait(key, { role, dependency, action, since, failures: 0 });
  try {
    for (let failures = 0; ;) {
      if (signal?.aborted) throw new RoleStoppedError(role, action);
      try {
        const value = await abortable(work(), signal, () => new RoleStoppedError(role, action));
        if (failures > 0) {
          log.info(
            { dependency, action, failures, waitedMs: Date.now() - since },
            `${role}: ${dependency} answers again; could ${action}`,
          );
        }
        return value;
      } catch (err) {
        if (isUnrecoverable(err)) throw err;
        failures += 1;
        const blamed = dependencyOf(err, dependency);
        const delay = backoffMs(backoff, failures);
        readiness.wait(key, {
          role,
          dependency: blamed,
          action,
          since,
          failures,
          error: messageOf(err),
        });
        const level = failures === 1 || failures % WARN_EVERY === 0 ? "warn" : "debug";
        log[level](
          { err, dependency: blamed, action, failures, retryInMs: delay },
          `${role} waits for ${blamed}: could not ${action}; trying again`,
        );
        await sleep(delay, signal);
      }
    }
  } finally {
    readiness.clear(key);
  }
}

/**
 * Which dependency an error is about, when the error says so: kafkajs errors are Kafka's,
 * ioredis and redlock errors and Weft's messages that name Redis are Redis's, errors with a
 * PostgreSQL severity are PostgreSQL's. A bare socket error (ECONNREFUSED) says nothing: then
 * `fallback`, what the caller was talking to.
 */
export function dependencyOf(err: unknown, fallback: Dependency): Dependency {
  const e = err as { name?: unknown; severity?: unknown } | null | undefined;
  const name = typeof e?.name === "string" ? e.name : "";
  const message = messageOf(err);
  if (name.startsWith("KafkaJS")) return "kafka";
  if (
    name === "ReplyError" ||
    name === "MaxRetriesPerRequestError" ||
    name === "ExecutionError" ||
    /\bRedis\b/.test(message)
  )
    return "redis";
  if (typeof e?.severity === "string" || /\bPostgreSQL\b/.test(message)) return "postgres";
  return fallback;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** `promise`, or a rejection with `stopped()` as soon as `signal` aborts. */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  stopped: () => Error,
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(stopped());
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
