/**
 * The globals workflow code sees. While a run's code runs, `Date.now()`, `new Date()` (no
 * arguments), `Date()`, `Math.random()` and `performance.now()` answer from the run — the time
 * of the history event being processed and a seeded stream — so a replay sees what the first
 * execution saw; `setTimeout`, `setInterval` and `setImmediate` tell the run (which parks
 * itself) and hand back a timer that never fires. Everything else sees the real ones.
 *
 * Two parts, because neither is enough alone:
 * - Whose code is running: the run's scope follows its code. The workflow function is called
 *   inside `runInScope`, and every continuation of its code (after an `await`, in a
 *   `Promise.all`, in a `.then`, in a `queueMicrotask` or `process.nextTick` callback) resumes
 *   in the scope it was registered in: each promise made while a scope is current is tagged
 *   with it, and its reactions run in it (V8's promise hooks, see `startPromiseHooks`).
 * - When: the globals are swapped for forwarding versions only while an execution drives its
 *   code (`withSandboxGlobals`: from resolving the ctx promises until every microtask has run),
 *   and put back, descriptors and identity included, when the last driver ends. Between
 *   decisions the process has its own globals. While swapped, a forwarder asks whose code
 *   calls it: a run's code gets the run's answer; anything else — the roles, a step running in
 *   the same process, other partitions' decisions in the same microtasks, a test — gets the
 *   real one. Swapping alone would hand the run's time to that other code; the scope alone
 *   would need the globals swapped for the life of the process.
 *
 * Code of a run that resumes outside any drive (after a promise that is not a ctx operation
 * settled) sees the real globals; such a run is parked already (see execution.ts).
 *
 * Cost: the promise hooks run for every promise of the process, so they are on only while
 * drives are. They are Weft's own rather than an AsyncLocalStorage: before Node 24 that
 * storage runs async_hooks' machinery on every promise (an async ID, resource lookups, its
 * own stack), about three times the cost of a tag and two assignments, and that was 5 % of a
 * decider and worker process's time in a burst. The swap itself is a few property
 * definitions per drive.
 */
// Not I/O: V8's promise hooks tell a run's continuations from everyone else's.
// eslint-disable-next-line no-restricted-imports -- the host side of the sandbox, see above
import { promiseHooks } from "node:v8";

export type HostTimer = "setTimeout" | "setInterval" | "setImmediate";

/** What the globals answer for one run's code. */
export interface SandboxScope {
  /** `Date.now()`, `new Date()`, `Date()`: the time of the event being processed. */
  now(): number;
  /** `Math.random()`: the run's seeded stream. */
  random(): number;
  /** `performance.now()`: milliseconds since the run started, in event time. */
  sinceStart(): number;
  /** The code asked the process for a timer; the run decides what that means (it parks). */
  hostTimer(kind: HostTimer, delayMs: unknown): void;
  /**
   * The innermost `ctx.cancellable` or `ctx.nonCancellable` scope the code runs in (none: the
   * run's own). It follows the code's continuations as the run's scope does (the storage
   * below), so an operation knows which cancels reach it wherever it is called from.
   */
  readonly cancelScope?: CancelScope;
}

/**
 * A cancellation scope of workflow code, linked to the one around it. A cancel reaches an
 * operation made in a scope when it is that scope's or an enclosing one's, with no
 * `nonCancellable` scope in between; the run's cancel is the outermost.
 */
export interface CancelScope {
  readonly kind: "cancellable" | "nonCancellable";
  readonly parent: CancelScope | undefined;
  /** Set once the code cancelled this (cancellable) scope. */
  cancelled?: { reason: string | null };
}

/**
 * The current scope and the count of drives, one per realm: two copies of Weft in one process
 * (a duplicate install) must not each swap the globals, or one would put back the other's
 * forwarders for good. The first copy's forwarders and promise hooks serve both.
 */
interface Shared {
  /** The scope of the code running now: set by `runInScope` and by a promise's reactions. */
  current: SandboxScope | undefined;
  /** Drives in progress (several partitions may decide at once); swapped while > 0. */
  drivers: number;
  restore: (() => void) | undefined;
  /** Stops the promise hooks (on while drives are). */
  stopHooks: (() => void) | undefined;
  /** The forwarders last built, with the originals they wrap (see `install`). */
  forwarders?: Forwarders;
}
// Versioned: a copy of Weft from before the promise hooks keeps its own (an AsyncLocalStorage).
const SHARED = Symbol.for("weft.sandbox.2");
/** The property a promise made in a run's code carries its scope in. */
const SCOPE = Symbol.for("weft.sandbox.scope");
type Tagged = Promise<unknown> & { [SCOPE]?: SandboxScope };
const shared: Shared = ((globalThis as unknown as Record<symbol, Shared | undefined>)[SHARED] ??= {
  current: undefined,
  drivers: 0,
  restore: undefined,
  stopHooks: undefined,
});

/** Calls `fn` as code of the run `scope` answers for; its continuations stay that run's. */
export function runInScope<T>(scope: SandboxScope, fn: () => T): T {
  const outer = shared.current;
  shared.current = scope;
  try {
    return fn();
  } finally {
    shared.current = outer;
  }
}

/** The scope of the code calling, or undefined outside any run's code. */
export function currentScope(): SandboxScope | undefined {
  return shared.current;
}

/**
 * Carries the scope from where a promise is made to where its reactions run. Reaction jobs
 * never nest (they run one at a time from the microtask queue), so one variable holds the
 * scope a job interrupted. A promise made while no scope is current carries none, and its
 * reactions run in none: code outside a run gets the real globals even when the run's code
 * settles its promise.
 */
function startPromiseHooks(): () => void {
  let interrupted: SandboxScope | undefined;
  // Each `on…` hands back the function that takes its hook off again.
  const stops = [
    promiseHooks.onInit((promise) => {
      if (shared.current !== undefined) (promise as Tagged)[SCOPE] = shared.current;
    }),
    promiseHooks.onBefore((promise) => {
      interrupted = shared.current;
      shared.current = (promise as Tagged)[SCOPE];
    }),
    promiseHooks.onAfter(() => {
      shared.current = interrupted;
      interrupted = undefined;
    }),
  ] as (() => void)[];
  return () => {
    for (const stop of stops) stop();
  };
}

/** Runs `drive` with the forwarding globals in place; the last driver to end puts them back. */
export async function withSandboxGlobals<T>(drive: () => Promise<T>): Promise<T> {
  if (shared.drivers++ === 0) {
    shared.restore = install();
    // The continuations made in a drive keep their run's scope (their promises' tag) while
    // the hooks are off, and answer with it in the next drive.
    shared.stopHooks = startPromiseHooks();
  }
  try {
    return await drive();
  } finally {
    if (--shared.drivers === 0) {
      const put = shared.restore;
      shared.restore = undefined;
      put?.();
      shared.stopHooks?.();
      shared.stopHooks = undefined;
      // Stopped inside a reaction job its hook will not close: no scope outlives the drives.
      shared.current = undefined;
    }
  }
}

/** Whether the forwarding globals are in place (for tests). */
export function sandboxGlobalsInstalled(): boolean {
  return shared.drivers > 0;
}

type Swapped = [target: object, key: PropertyKey, before: PropertyDescriptor | undefined];

/**
 * Swaps the globals for forwarders to the ones in place now (a test's fake timers included),
 * and returns what puts those back.
 */
/** What a drive puts in place: each global's forwarder, built for the originals it wraps. */
interface Forwarders {
  readonly originals: readonly unknown[];
  readonly entries: readonly [target: object, key: PropertyKey, value: unknown][];
}

/**
 * Puts the forwarders in place until the returned function puts the originals back. The
 * forwarders are built once and kept while the globals they wrap stay the same (a test may
 * install fake timers between drives: then they are built again around those), so a drive,
 * which happens once per event a run replays, only swaps properties.
 */
function install(): () => void {
  const wanted = forwarders();
  const swapped: Swapped[] = [];
  for (const [target, key, value] of wanted.entries) {
    const before = Object.getOwnPropertyDescriptor(target, key);
    try {
      Object.defineProperty(target, key, {
        value,
        writable: true,
        configurable: true,
        enumerable: before?.enumerable ?? false,
      });
      swapped.push([target, key, before]);
    } catch {
      // A frozen global (a hardened realm) stays as it is: it is not guarded, not broken.
    }
  }
  return () => {
    for (const [target, key, before] of swapped.reverse()) {
      if (before) Object.defineProperty(target, key, before);
      else delete (target as Record<PropertyKey, unknown>)[key];
    }
  };
}

const TIMERS = [
  ["setTimeout", "clearTimeout"],
  ["setInterval", "clearInterval"],
  ["setImmediate", "clearImmediate"],
] as const;

function forwarders(): Forwarders {
  const g = globalThis as unknown as Record<string, unknown>;
  const performance = g.performance as { now(): number } | undefined;
  const originals = [
    g.Date,
    // eslint-disable-next-line no-restricted-properties -- the real one, for everyone but a run
    Math.random,
    // Compared by identity only, never called from here.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    performance?.now,
    ...TIMERS.flatMap(([kind, clear]) => [g[kind], g[clear]]),
    g.queueMicrotask,
    // Compared by identity only, never called from here.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    process.nextTick,
  ];
  const cached = shared.forwarders;
  if (cached && cached.originals.every((o, i) => o === originals[i])) return cached;
  const built = { originals, entries: buildForwarders(g, performance) };
  shared.forwarders = built;
  return built;
}

function buildForwarders(
  g: Record<string, unknown>,
  performance: { now(): number } | undefined,
): Forwarders["entries"] {
  const entries: [object, PropertyKey, unknown][] = [];
  const RealDate = g.Date as DateConstructor;
  const realNow = RealDate.now.bind(RealDate);
  const now = (): number => shared.current?.now() ?? realNow();
  const SandboxDate: DateConstructor = new Proxy(RealDate, {
    // `new Date()` is the run's time; `new Date(x)` is x, for every caller.
    construct(target, args: unknown[], newTarget: DateConstructor) {
      const scope = shared.current;
      const at = (scope && args.length === 0 ? [scope.now()] : args) as [number];
      return Reflect.construct(target, at, newTarget === SandboxDate ? target : newTarget);
    },
    // `Date()` called as a function: the current time as text.
    apply(target, thisArg, args: unknown[]) {
      const scope = shared.current;
      if (scope) return new target(scope.now()).toString();
      return Reflect.apply(target, thisArg, args) as unknown;
    },
    get(target, key) {
      return key === "now" ? now : (Reflect.get(target, key) as unknown);
    },
  });
  entries.push([g, "Date", SandboxDate]);

  // eslint-disable-next-line no-restricted-properties -- the real one, for everyone but a run
  const realRandom = Math.random;
  entries.push([Math, "random", () => shared.current?.random() ?? realRandom()]);

  if (performance && typeof performance.now === "function") {
    const realPerformanceNow = performance.now.bind(performance);
    entries.push([performance, "now", () => shared.current?.sinceStart() ?? realPerformanceNow()]);
  }

  const timer = (kind: HostTimer, clear: string): void => {
    const real = g[kind] as ((...args: unknown[]) => unknown) | undefined;
    const realClear = g[clear] as ((handle: unknown) => void) | undefined;
    if (typeof real !== "function" || typeof realClear !== "function") return;
    const forward = function (this: unknown, ...args: unknown[]): unknown {
      const scope = shared.current;
      if (!scope) return Reflect.apply(real, this, args);
      scope.hostTimer(kind, kind === "setImmediate" ? undefined : args[1]);
      // A handle of the kind asked for (unref, refresh and clear work on it) that never fires.
      const handle = real(() => undefined, 0);
      realClear(handle);
      return handle;
    };
    entries.push([g, kind, forward]);
  };
  for (const [kind, clear] of TIMERS) timer(kind, clear);

  // Callbacks queued by a run's code run in its scope, as its promise continuations do (the
  // promise hooks see only promises).
  const realQueueMicrotask = g.queueMicrotask as ((callback: () => void) => void) | undefined;
  if (typeof realQueueMicrotask === "function") {
    entries.push([
      g,
      "queueMicrotask",
      (callback: () => void): void => {
        const scope = shared.current;
        if (scope === undefined || typeof callback !== "function")
          return realQueueMicrotask(callback);
        realQueueMicrotask(() => runInScope(scope, callback));
      },
    ]);
  }
  const realNextTick = process.nextTick.bind(process);
  entries.push([
    process,
    "nextTick",
    (callback: (...args: unknown[]) => void, ...args: unknown[]): void => {
      const scope = shared.current;
      if (scope === undefined || typeof callback !== "function")
        return realNextTick(callback, ...args);
      realNextTick(() => runInScope(scope, () => callback(...args)));
    },
  ]);

  return entries;
}
