import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import {
  ApiError,
  readResponse,
  request,
  socket,
  subscribe,
  tokens,
  type SocketState,
} from "./client";
import { takePrefetched } from "./prefetch";

export interface QueryState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Fetches again (keeps showing the current data meanwhile). */
  refetch: () => void;
}

/** Runs a query on mount and whenever its variables or the token change. */
export function useQuery<T>(
  query: string,
  variables: Record<string, unknown> = {},
  options: { skip?: boolean } = {},
): QueryState<T> {
  const key = JSON.stringify(variables);
  const tokenVersion = useSyncExternalStore(tokens.subscribe, tokens.snapshot);
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({
    loading: !options.skip,
  });
  const [nonce, setNonce] = useState(0);
  const inFlight = useRef(false);
  const again = useRef(false);

  useEffect(() => {
    if (options.skip) return;
    const controller = new AbortController();
    inFlight.current = true;
    setState((s) => ({ ...s, loading: true }));
    const prefetched = takePrefetched(query, key);
    const pending = prefetched
      ? readResponse<T>(prefetched, controller.signal)
      : request<T>(query, JSON.parse(key) as Record<string, unknown>, controller.signal);
    pending.then(
      (data) => {
        inFlight.current = false;
        setState({ data, loading: false });
        if (again.current) {
          again.current = false;
          setNonce((n) => n + 1);
        }
      },
      (err: unknown) => {
        inFlight.current = false;
        if (controller.signal.aborted) return;
        const error = err instanceof ApiError ? err : new ApiError(String(err));
        setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [query, key, tokenVersion, nonce, options.skip]);

  // A refetch asked for while one runs waits for it: at most one request in flight.
  const refetch = useCallback(() => {
    if (inFlight.current) again.current = true;
    else setNonce((n) => n + 1);
  }, []);
  return { data: state.data, error: state.error, loading: state.loading, refetch };
}

/** Holds a subscription open while mounted; `onData` may change between renders. */
export function useSubscription<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  options: { skip?: boolean } = {},
): ApiError | undefined {
  const key = JSON.stringify(variables);
  const tokenVersion = useSyncExternalStore(tokens.subscribe, tokens.snapshot);
  const handler = useRef(onData);
  handler.current = onData;
  const [error, setError] = useState<ApiError>();
  useEffect(() => {
    if (options.skip) return;
    setError(undefined);
    return subscribe<T>(
      query,
      JSON.parse(key) as Record<string, unknown>,
      (data) => {
        setError(undefined);
        handler.current(data);
      },
      setError,
    );
  }, [query, key, tokenVersion, options.skip]);
  return error;
}

/**
 * Calls `fn` at most once per `ms`, the last call always honoured (trailing). Used to refetch
 * after live messages without sending one request per message.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    const wait = Math.max(0, last.current + ms - Date.now());
    timer.current = setTimeout(() => {
      timer.current = undefined;
      last.current = Date.now();
      fnRef.current();
    }, wait);
  }, [ms]);
}

// One clock for every relative time and countdown on the page.
let now = Date.now();
const clockListeners = new Set<() => void>();
let clock: ReturnType<typeof setInterval> | undefined;
function subscribeClock(listener: () => void): () => void {
  clockListeners.add(listener);
  clock ??= setInterval(() => {
    now = Date.now();
    for (const l of clockListeners) l();
  }, 1000);
  return () => {
    clockListeners.delete(listener);
    if (clockListeners.size === 0 && clock !== undefined) {
      clearInterval(clock);
      clock = undefined;
    }
  };
}

/** The clock's time, at most 250 ms old when read (a page just opened has not ticked yet). */
function clockSnapshot(): number {
  const t = Date.now();
  if (t - now >= 250) now = t;
  return now;
}

/** The current time, re-rendering once a second. */
export function useNow(): number {
  return useSyncExternalStore(subscribeClock, clockSnapshot);
}

export function useSocketState(): SocketState {
  return useSyncExternalStore(socket.subscribe, socket.state);
}

export function useTokenNeeded(): boolean {
  useSyncExternalStore(tokens.subscribe, tokens.snapshot);
  return tokens.isNeeded();
}
