/**
 * The one way the dashboard talks to Weft: GraphQL over HTTP for queries and mutations, over a
 * WebSocket (graphql-transport-ws) for subscriptions, both on the page's own origin.
 */
import { createClient, type Client } from "graphql-ws";
import { TOKEN_KEY } from "./prefetch";

/** An error the API returned, with its `extensions.code` when it had one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

// ------------------------------------------------------------------ the token

type Listener = () => void;

/** The API token, kept in this browser tab's session only (never in localStorage). */
class TokenStore {
  private listeners = new Set<Listener>();
  private token: string | null = readSession();
  /** Set when the API refused the request for want of a (valid) token. */
  private needed = false;
  private version = 0;

  get(): string | null {
    return this.token;
  }
  snapshot = (): number => this.version;
  isNeeded(): boolean {
    return this.needed;
  }
  set(token: string | null): void {
    this.token = token && token.trim() !== "" ? token.trim() : null;
    try {
      if (this.token) sessionStorage.setItem(TOKEN_KEY, this.token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage may be disabled: the token then lives as long as the page.
    }
    this.needed = false;
    resetSocket();
    this.bump();
  }
  markNeeded(): void {
    if (this.needed) return;
    this.needed = true;
    this.bump();
  }
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  private bump(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}

function readSession(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export const tokens = new TokenStore();

function authorization(): Record<string, string> {
  const token = tokens.get();
  return token ? { authorization: `Bearer ${token}` } : {};
}

// ------------------------------------------------------------------ HTTP

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

function toApiError(errors: readonly GraphQLError[]): ApiError {
  const first = errors[0];
  const error = new ApiError(first?.message ?? "unknown error", first?.extensions?.code);
  if (error.code === "UNAUTHENTICATED") tokens.markNeeded();
  return error;
}

/** Sends a query or mutation; resolves with `data` or rejects with an ApiError. */
export async function request<T>(
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<T> {
  const response = fetch("/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...authorization(),
    },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  return readResponse<T>(response, signal);
}

/** The `data` of a GraphQL response, or an ApiError. */
export async function readResponse<T>(
  pending: Promise<Response>,
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await pending;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(`cannot reach the Weft API (${(err as Error).message})`, "NETWORK");
  }
  let body: { data?: T | null; errors?: GraphQLError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError(`the API answered ${response.status} ${response.statusText}`, "HTTP");
  }
  if (body.errors && body.errors.length > 0) throw toApiError(body.errors);
  if (!response.ok || body.data == null) {
    throw new ApiError(`the API answered ${response.status} without data`, "HTTP");
  }
  return body.data;
}

// ------------------------------------------------------------------ WebSocket

export type SocketState = "connecting" | "live" | "down";
let socketState: SocketState = "connecting";
const socketListeners = new Set<Listener>();
function setSocketState(state: SocketState): void {
  if (state === socketState) return;
  socketState = state;
  for (const l of socketListeners) l();
}
export const socket = {
  state: (): SocketState => socketState,
  subscribe: (listener: Listener): (() => void) => {
    socketListeners.add(listener);
    return () => socketListeners.delete(listener);
  },
};

/** Counts subscription messages (the benchmark reads it to check the page keeps up). */
const liveCounter = { messages: 0 };
(globalThis as { __weftLive?: typeof liveCounter }).__weftLive = liveCounter;

let client: Client | undefined;

function wsClient(): Client {
  if (client) return client;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  client = createClient({
    url,
    lazy: true,
    lazyCloseTimeout: 3000,
    keepAlive: 15_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Reconnect after network trouble, not after the server refused the token.
    shouldRetry: (reason) => {
      const code = (reason as { code?: number } | null)?.code;
      if (code === 4401 || code === 4403 || code === 4400) {
        tokens.markNeeded();
        return false;
      }
      return true;
    },
    retryWait: async (retries) => {
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(retries, 5))));
    },
    connectionParams: () => authorization(),
    on: {
      connecting: () => setSocketState("connecting"),
      connected: () => setSocketState("live"),
      closed: () => setSocketState("down"),
    },
  });
  return client;
}

function resetSocket(): void {
  const old = client;
  client = undefined;
  void old?.dispose();
}

/** Subscribes; returns the function that ends the subscription. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (error: ApiError) => void,
): () => void {
  return wsClient().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        liveCounter.messages++;
        if (result.errors && result.errors.length > 0) {
          onError(toApiError(result.errors));
        } else if (result.data) {
          onData(result.data);
        }
      },
      error: (err: unknown) => onError(subscriptionError(err)),
      complete: () => undefined,
    },
  );
}

function subscriptionError(err: unknown): ApiError {
  if (Array.isArray(err)) return toApiError(err as GraphQLError[]);
  const close = err as { code?: number; reason?: string } | null;
  if (close && typeof close.code === "number") {
    if (close.code === 4401 || close.code === 4403) tokens.markNeeded();
    const reason = close.reason ? `: ${close.reason}` : "";
    return new ApiError(`the live connection closed (${close.code})${reason}`, "SOCKET");
  }
  return new ApiError(err instanceof Error ? err.message : "the live connection failed", "SOCKET");
}
