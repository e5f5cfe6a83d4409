/**
 * The CLI's GraphQL client: queries and mutations over HTTP (fetch), subscriptions over a
 * WebSocket (graphql-ws with `ws`). Every failure becomes an `ApiError` (the API answered with
 * a code) or an `ApiUnreachableError` (nothing answered), so commands print one line.
 */
import { createClient, type Client } from "graphql-ws/client";
import WebSocket from "ws";
import { ConfigError } from "../core/errors";
import { oneLine } from "./tables";

export const DEFAULT_API_URL = "http://127.0.0.1:8080";
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiSettings {
  /** The API's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/graphql` is accepted). */
  url?: string;
  /** A bearer token, sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/** An error the API answered with: `code` is its `extensions.code` (INTERNAL when it gave none). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Nothing answered at the API's address, or what answered is not a Weft API. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(
      `cannot reach the Weft API at ${url} (${reason}): start one with \`weft start --roles api,projector,…\` (or \`npm start\`), or point WEFT_API_URL / --api at a running API`,
    );
    this.name = "ApiUnreachableError";
  }
}

interface GraphQLErrorLike {
  message?: string;
  extensions?: { code?: unknown };
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorLike[];
}

/** The first error of a GraphQL answer as an ApiError. */
export function toApiError(errors: readonly GraphQLErrorLike[]): ApiError {
  const first = errors[0] ?? {};
  const code = typeof first.extensions?.code === "string" ? first.extensions.code : "INTERNAL";
  return new ApiError(code, oneLine(first.message ?? "the API answered with an error").trim());
}

export interface SubscriptionHandlers<T> {
  next(value: T): void;
  /** The subscription ended with an error: an ApiError, or an ApiUnreachableError. */
  error(err: Error): void;
}

export class ApiClient {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  private readonly token: string | undefined;
  private ws: Client | undefined;

  constructor(settings: ApiSettings = {}) {
    this.url = normaliseUrl(settings.url ?? DEFAULT_API_URL);
    this.token = settings.token || undefined;
  }

  /** The client of `--api` / `--token`, else `WEFT_API_URL` / `WEFT_API_TOKEN`, else the default. */
  static fromOptions(
    opts: { api?: string; token?: string },
    env: NodeJS.ProcessEnv = process.env,
  ): ApiClient {
    return new ApiClient({
      url: opts.api ?? (env.WEFT_API_URL || undefined),
      token: opts.token ?? (env.WEFT_API_TOKEN || undefined),
    });
  }

  private get authorization(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Runs a query or mutation; resolves with its data or rejects with one clear error. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const endpoint = `${this.url}/graphql`;
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.authorization },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ApiUnreachableError(this.url, reasonOf(err));
    }
    const text = await res.text();
    let body: GraphQLResponse<T>;
    try {
      body = JSON.parse(text) as GraphQLResponse<T>;
    } catch {
      throw new ApiUnreachableError(
        this.url,
        `${endpoint} answered HTTP ${res.status} without GraphQL JSON: is this a Weft API?`,
      );
    }
    if (body.errors && body.errors.length > 0) throw toApiError(body.errors);
    if (body.data === undefined || body.data === null) {
      throw new ApiError("INTERNAL", `${endpoint} answered HTTP ${res.status} without data`);
    }
    return body.data;
  }

  /**
   * Subscribes over one WebSocket per client (opened on first use). Returns a function that
   * ends the subscription.
   */
  subscribe<T>(
    query: string,
    variables: Record<string, unknown>,
    handlers: SubscriptionHandlers<T>,
  ): () => void {
    this.ws ??= createClient({
      url: `${this.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: this.authorization,
      retryAttempts: 0,
    });
    return this.ws.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors && result.errors.length > 0) handlers.error(toApiError(result.errors));
          else if (result.data) handlers.next(result.data);
        },
        error: (err) => handlers.error(this.subscriptionError(err)),
        complete: () => undefined,
      },
    );
  }

  /** Closes the WebSocket, if one was opened. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    await ws?.dispose();
  }

  private subscriptionError(err: unknown): Error {
    if (Array.isArray(err)) return toApiError(err as GraphQLErrorLike[]);
    if (err instanceof Error) return new ApiUnreachableError(this.url, reasonOf(err));
    // A CloseEvent-like value: the socket closed.
    const close = err as { code?: number; reason?: string };
    return new ApiUnreachableError(
      this.url,
      `the WebSocket closed${close.code ? ` (${close.code}${close.reason ? ` ${close.reason}` : ""})` : ""}`,
    );
  }
}

function normaliseUrl(raw: string): string {
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    throw new ConfigError(
      `WEFT_API_URL / --api must be an http(s) URL such as ${DEFAULT_API_URL}, got ${JSON.stringify(raw)}`,
    );
  }
  return url.href.replace(/\/+$/, "").replace(/\/graphql$/, "");
}

/** Why a fetch failed, in a few words: the system error code when there is one. */
function reasonOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if ((err as Error).name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS} ms`;
  return oneLine(cause?.message ?? (err as Error).message ?? String(err)).trim();
}
