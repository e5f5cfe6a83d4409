/**
 * The globals workflow code sees. While a run's code runs, `Date.now()`, `new Date()` (no
 * arguments), `Date()`, `Math.random()` and `performance.now()` answer from the run — the time
 * of the history event being processed and a seeded stream — so a replay sees what the first
 * execution saw; `setTimeout`, `setInterval` and `setImmediate` tell the run (which parks
 * itself) and hand back a timer that never fires. Everything else sees the real ones.
 *
 * Two parts, because neither is enough alone:
 * - Whose code is running: an AsyncLocalStorage holds the run's scope. The workflow function is
 *   called inside `runInScope`, and every continuation of its code (after an `await`, in a
 *   `Promise.all`, in a `.then`) resumes in the scope it was registered in.
 * - When: the globals are swapped for forwarding versions only while an execution drives its
 *   code (`withSandboxGlobals`: from resolving the ctx promises until every microtask has run),
 *   and put back, descriptors and identity included, when the last driver ends. Between
 *   decisions the process has its own globals. While swapped, a forwarder asks the storage
 *   whose code calls it: a run's code gets the run's answer; anything else — the roles, a step
 *   running in the same process, other partitions' decisions in the same microtasks, a test —
 *   gets the real one. Swapping alone would hand the run's time to that other code; the
 *   storage alone would need the globals swapped for the life of the process.
 *
 * Code of a run that resumes outside any drive (after a promise that is not a ctx operation
 * settled) sees the real globals; such a run is parked already (see execution.ts).
 *
 * Cost: before Node 24, an AsyncLocalStorage in use turns on promise hooks for the whole
 * process, a small cost on every promise (Node 24 carries the context with the promise
 * instead), so the storage is on only while drives are. The swap itself is a few property
 * definitions per drive.
 */
// Not I/O: it tells a run's continuations from everyone else's.
// eslint-disable-next-line no-restricted-imports -- the host side of the sandbox, see above
import { AsyncLocalStorage } from "node:async_hooks";

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
 * The storage and the count of drives, one per realm: two copies of Weft in one process (a
 * duplicate install) must not each swap the globals, or one would put back the other's
 * forwarders for good. The first copy's forwarders serve both.
 */
interface Shared {
  readonly scopes: AsyncLocalStorage<SandboxScope>;
  /** Drives in progress (several partitions may decide at once); swapped while > 0. */
  drivers: number;
  restore: (() => void) | undefined;
  /** The forwarders last built, with the originals they wrap (see `install`). */
  forwarders?: Forwarders;
}
const SHARED = Symbol.for("weft.sandbox");
const shared: Shared = ((globalThis as unknown as Record<symbol, Shared | undefined>)[SHARED] ??= {
  scopes: new AsyncLocalStorage<SandboxScope>(),
  drivers: 0,
  restore: undefined,
});
const scopes = shared.scopes;

/** Calls `fn` as code of the run `scope` answers for; its continuations stay that run's. */
export function runInScope<T>(scope: SandboxScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope of the code calling, or undefined outside any run's code. */
export function currentScope(): SandboxScope | undefined {
  return scopes.getStore();
}

/** Runs `drive` with the forwarding globals in place; the last driver to end puts them back. */
export async function withSandboxGlobals<T>(drive: () => Promise<T>): Promise<T> {
  if (shared.drivers++ === 0) {
    shared.restore = install();
    // The storage is on only while drives are (a run's code runs only then): before Node 24
    // it turns on promise hooks for the whole process, a cost on every promise of the
    // roles, the steps and the application between decisions. The continuations made in a
    // drive keep their run's scope while it is off and answer with it in the next drive.
    scopes.enterWith(undefined as unknown as SandboxScope);
  }
  try {
    return await drive();
  } finally {
    if (--shared.drivers === 0) {
      const put = shared.restore;
      shared.restore = undefined;
      put?.();
      scopes.disable();
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
  const now = (): number => scopes.getStore()?.now() ?? realNow();
  const SandboxDate: DateConstructor = new Proxy(RealDate, {
    // `new Date()` is the run's time; `new Date(x)` is x, for every caller.
    construct(target, args: unknown[], newTarget: DateConstructor) {
      const scope = scopes.getStore();
      const at = (scope && args.length === 0 ? [scope.now()] : args) as [number];
      return Reflect.construct(target, at, newTarget === SandboxDate ? target : newTarget);
    },
    // `Date()` called as a function: the current time as text.
    apply(target, thisArg, args: unknown[]) {
      const scope = scopes.getStore();
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
  entries.push([Math, "random", () => scopes.getStore()?.random() ?? realRandom()]);

  if (performance && typeof performance.now === "function") {
    const realPerformanceNow = performance.now.bind(performance);
    entries.push([
      performance,
      "now",
      () => scopes.getStore()?.sinceStart() ?? realPerformanceNow(),
    ]);
  }

  const timer = (kind: HostTimer, clear: string): void => {
    const real = g[kind] as ((...args: unknown[]) => unknown) | undefined;
    const realClear = g[clear] as ((handle: unknown) => void) | undefined;
    if (typeof real !== "function" || typeof realClear !== "function") return;
    const forward = function (this: unknown, ...args: unknown[]): unknown {
      const scope = scopes.getStore();
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

  return entries;
}
