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

/**
 * A role's verdict on its own work, beside what it waits for: the projector's, on whether each
 * of its partitions applies its records. /readyz shows it as a check of the role's name.
 */
export interface RoleCheck {
  readonly ok: boolean;
  /** Why not, in a line. */
  readonly error?: string;
  /** A stable code (core/errors.ts) for the error, when one applies. */
  readonly code?: string;
  /** What /readyz shows besides, ready or not (e.g. recent dead letters). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What a process's roles wait for at one moment. */
export interface ReadinessSnapshot {
  /** Roles whose start has not finished. */
  readonly starting: readonly string[];
  readonly waiting: readonly DependencyWait[];
  /** The dependencies of `waiting`, each once, in DEPENDENCIES order. */
  readonly missing: readonly Dependency[];
  /** The roles' own checks, by name, read now. */
  readonly checks: Readonly<Record<string, RoleCheck>>;
}

/**
 * What the roles of one process wait for right now. A role reports a wait when it begins
 * something that needs a dependency (and each time it fails), and withdraws it once that
 * worked; it is "starting" until its start finished. A role may also add a check of its own
 * work (`check`), read whenever /readyz is asked. /readyz (the API's, or the metrics server's
 * in a process without the api role) is not ready while any role starts, waits or fails its
 * check, and names the dependencies waited for and the checks failed. One per process, handed
 * to its roles; a role given none keeps a private one nobody reads.
 */
export class Readiness {
  private readonly waits = new Map<symbol, DependencyWait>();
  private readonly starting = new Set<string>();
  private readonly checks = new Map<string, () => RoleCheck>();

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

  /**
   * Adds the check `name` (a role's name, e.g. "projector"), read on every snapshot; returns
   * what removes it. Keep `read` cheap: it runs on every /readyz.
   */
  check(name: string, read: () => RoleCheck): () => void {
    this.checks.set(name, read);
    return () => {
      if (this.checks.get(name) === read) this.checks.delete(name);
    };
  }

  snapshot(): ReadinessSnapshot {
    const waiting = [...this.waits.values()].sort((a, b) => a.since - b.since);
    const missing = DEPENDENCIES.filter((d) => waiting.some((w) => w.dependency === d));
    const checks: Record<string, RoleCheck> = {};
    for (const [name, read] of [...this.checks].sort(([a], [b]) => a.localeCompare(b))) {
      try {
        checks[name] = read();
      } catch (err) {
        checks[name] = { ok: false, error: `the check failed: ${(err as Error).message}` };
      }
    }
    return { starting: [...this.starting].sort(), waiting, missing, checks };
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
 * starts, waits or fails its own check, else 503 with `failed` naming the dependencies waited
 * for and the checks that failed. The roles' checks are shown under `checks` either way.
 */
export function roleReadinessBody(readiness: Readiness): {
  ready: boolean;
  body: Record<string, unknown>;
} {
  const { starting, waiting, missing, checks } = readiness.snapshot();
  const failedChecks = Object.keys(checks).filter((name) => !checks[name]!.ok);
  const ready = starting.length === 0 && waiting.length === 0 && failedChecks.length === 0;
  const failed = [...missing, ...failedChecks];
  const shown = Object.entries(checks).map(([name, check]) => [name, roleCheckJson(check)]);
  return {
    ready,
    body: {
      ready,
      ...(shown.length > 0 ? { checks: Object.fromEntries(shown) } : {}),
      ...(failed.length > 0 ? { failed } : {}),
      ...(starting.length > 0 ? { starting } : {}),
      ...(waiting.length > 0 ? { waiting: waiting.map(waitJson) } : {}),
    },
  };
}

/** A role's check as /readyz shows it: `ok`, then `error` and `code` if any, then its details. */
export function roleCheckJson(check: RoleCheck): Record<string, unknown> {
  return {
    ok: check.ok,
    ...(check.error !== undefined ? { error: check.error } : {}),
    ...(check.code !== undefined ? { code: check.code } : {}),
    ...check.details,
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
