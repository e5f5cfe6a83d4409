/** A real GraphQL client for tests: HTTP with fetch, subscriptions over a real WebSocket. */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { waitFor } from "./env";

export interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** POSTs a query to `<address>/graphql`. */
export async function httpGql<T = Record<string, unknown>>(
  address: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${address}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse<T>;
}

export interface Subscription<T> {
  /** Every value received so far, in order. */
  readonly values: T[];
  /** Errors the server sent for this subscription. */
  readonly errors: unknown[];
  /** Resolves once a received value passes `check`. */
  until(what: string, check: (values: T[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens a WebSocket to `<address>/graphql` (graphql-transport-ws) and subscribes. */
export async function subscribe<T = Record<string, unknown>>(
  address: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<Subscription<T>> {
  const client: Client = createClient({
    url: `${address.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
  });
  const values: T[] = [];
  const errors: unknown[] = [];
  let acknowledged = false;
  client.on("connected", () => (acknowledged = true));
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) values.push(result.data);
      },
      error: (err) => (Array.isArray(err) ? errors.push(...(err as unknown[])) : errors.push(err)),
      complete: () => undefined,
    },
  );
  await waitFor("the WebSocket to connect", () => acknowledged || errors.length > 0, 10_000);
  return {
    values,
    errors,
    async until(what, check, timeoutMs = 30_000) {
      await waitFor(
        what,
        () => {
          if (errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
          return check(values);
        },
        timeoutMs,
      );
    },
    async close() {
      dispose();
      await client.dispose();
    },
  };
}
