/** The servers a role may wait for; /readyz names its checks after them. */
export const DEPENDENCIES = ["kafka", "redis", "postgres"] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/** A role waiting for a dependency: what it tries to do, since when, how often it failed, why. */
export interface DependencyWait {
  readonly role: string;
  readonly dependency: Dependency;
  /** What the role tries, e.g. "connect the command producer". */
  readonly action: string;
  /** When the wait began (ms since the epoch). */
  readonly since: number;
  /** Tries that failed so far (0 while the first one runs). */
  readonly failures: number;
  /** The last failure's message. */
  readonly error?: string;
}

/** What a process's roles wait for at one moment. */
export interface ReadinessSnapshot {
  /** Roles whose start has not finished. */
  readonly starting: readonly string[];
  readonly waiting: readonly DependencyWait[];
  /** The dependencies of `waiting`, each once, in DEPENDENCIES order. */
  readonly missing: readonly Dependency[];
}

/**
 * What the roles of one process wait for right now. A role reports a wait when it begins
 * something that needs a dependency (and each time it fails), and withdraws it once that
 * worked; it is "starting" until its start finished. /readyz (the API's, or the metrics
 * server's in a process without the api role) is not ready while any role starts or waits,
 * and names the dependencies waited for. One per process, handed to its roles; a role given
 * none keeps a private one nobody reads.
 */
export class Readiness {
  private readonly waits = new Map<symbol, DependencyWait>();
  private readonly starting = new Set<string>();

  /** Records (or updates) the wait of `key`: one key per thing waited for. */
  wait(key: symbol, wait: DependencyWait): void {
    this.waits.set(key, wait);
  }

  /** Withdraws the wait of `key`, if any. */
  clear(key: symbol): void {
    this.waits.delete(key);
  }

  /** The wait recorded under `key`. */
  get(key: symbol): DependencyWait | undefined {
    return this.waits.get(key);
  }

  roleStarting(role: string): void {
    this.starting.add(role);
  }

  roleStarted(role: string): void {
    this.starting.delete(role);
  }

  snapshot(): ReadinessSnapshot {
    const waiting = [...this.waits.values()].sort((a, b) => a.since - b.since);
    const missing = DEPENDENCIES.filter((d) => waiting.some((w) => w.dependency === d));
    return { starting: [...this.starting].sort(), waiting, missing };
  }
}

/** One line for a wait, e.g. "worker waits for redis to take leases (3 failures: connect ECONNREFUSED …)". */
export function describeWait(wait: DependencyWait): string {
  const failures =
    wait.failures === 0
      ? ""
      : ` (${wait.failures} failure${wait.failures === 1 ? "" : "s"}${wait.error ? `: ${wait.error}` : ""})`;
  return `${wait.role} waits for ${wait.dependency} to ${wait.action}${failures}`;
}

/**
 * `/readyz` of a process without the api role (served next to /metrics): 200 when no role
 * starts or waits, else 503 with `failed` naming the dependencies waited for.
 */
export function roleReadinessBody(readiness: Readiness): {
  ready: boolean;
  body: Record<string, unknown>;
} {
  const { starting, waiting, missing } = readiness.snapshot();
  const ready = starting.length === 0 && waiting.length === 0;
  return {
    ready,
    body: {
      ready,
      ...(missing.length > 0 ? { failed: missing } : {}),
      ...(starting.length > 0 ? { starting } : {}),
      ...(waiting.length > 0 ? { waiting: waiting.map(waitJson) } : {}),
    },
  };
}

/** A wait as /readyz shows it. */
export function waitJson(wait: DependencyWait): Record<string, unknown> {
  return {
    role: wait.role,
    dependency: wait.dependency,
    action: wait.action,
    since: new Date(wait.since).toISOString(),
    failures: wait.failures,
    ...(wait.error !== undefined ? { error: wait.error } : {}),
  };
}
