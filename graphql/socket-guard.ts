/**
 * What one GraphQL WebSocket may hold. mercurius keeps a socket for as long as the client
 * wants, accepts any number of subscriptions on it and queues messages for a client that stopped
 * reading; this guard bounds all three:
 *
 * - a socket must send an accepted `connection_init` within `wsInitTimeoutMs` (else closed with
 *   4408); a `connection_init` without a valid token, or a `subscribe` before it, closes it with
 *   4401 before mercurius parses anything it sent; a second `connection_init` closes it with
 *   4429 (the graphql-transport-ws close codes);
 * - it holds at most `wsMaxSubscriptions` subscriptions at once (TOO_MANY_SUBSCRIPTIONS);
 * - a socket with more than `wsMaxBufferedBytes` unsent, or whose unsent bytes have not drained
 *   for `wsStallMs`, is dropped: its client stopped reading.
 *
 * It watches each socket's frames before mercurius handles them (a listener added first), and
 * finds a socket's state from the upgrade request mercurius hands to its hooks and resolvers.
 */
import type { IncomingMessage } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import mercurius, { type IResolvers } from "mercurius";
import type { WebSocket, WebSocketServer } from "ws";
import type { ApiLimits } from "./api-limits";
import { limitVariable } from "./api-limits";
import { withCleanup } from "./async-streams";

/** graphql-transport-ws close codes. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_INIT_TIMEOUT = 4408;
export const CLOSE_TOO_MANY_INITS = 4429;

interface ConnectionState {
  readonly socket: WebSocket;
  initialised: boolean;
  readonly subscriptions: Set<string>;
  /** When its unsent bytes were first seen not draining. */
  stalledSince: number | undefined;
  readonly initTimer: NodeJS.Timeout;
}

export interface SocketGuardOptions {
  limits: ApiLimits;
  /** Whether a `connection_init` payload may open the connection (the token check). */
  admits(payload: unknown): boolean;
  logger: FastifyBaseLogger;
}

/** Frames larger than this after the handshake are not read here: stop frames are tiny. */
const CONTROL_FRAME_BYTES = 4096;

export class SocketGuard {
  private readonly states = new WeakMap<IncomingMessage, ConnectionState>();
  private readonly open = new Set<ConnectionState>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: SocketGuardOptions) {}

  /** Watches every socket the server accepts from now on. */
  attach(server: WebSocketServer): void {
    server.on("connection", (socket: WebSocket, request: IncomingMessage) =>
      this.track(socket, request),
    );
    const { wsStallMs } = this.options.limits;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, wsStallMs / 4)));
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const state of this.open) clearTimeout(state.initTimer);
    this.open.clear();
  }

  /** Takes a subscription slot for `id` on the connection of `request`, or refuses it. */
  reserve(request: IncomingMessage | undefined, id: unknown): void {
    const state = request && this.states.get(request);
    if (!state) return;
    const max = this.options.limits.wsMaxSubscriptions;
    if (state.subscriptions.size >= max && !state.subscriptions.has(String(id))) {
      throw new mercurius.ErrorWithProps(
        `this connection already holds ${max} subscriptions (${limitVariable("wsMaxSubscriptions")}): complete one before starting another`,
        { code: "TOO_MANY_SUBSCRIPTIONS" },
        429,
      );
    }
    state.subscriptions.add(String(id));
  }

  /** Gives back the slot of `id`: its stream ended, or it never started. */
  release(request: IncomingMessage | undefined, id: unknown): void {
    if (request) this.states.get(request)?.subscriptions.delete(String(id));
  }

  private track(socket: WebSocket, request: IncomingMessage): void {
    const { limits, logger } = this.options;
    const state: ConnectionState = {
      socket,
      initialised: false,
      subscriptions: new Set(),
      stalledSince: undefined,
      initTimer: setTimeout(() => {
        if (state.initialised) return;
        logger.info("closed a WebSocket that sent no accepted connection_init in time");
        socket.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout");
      }, limits.wsInitTimeoutMs),
    };
    this.states.set(request, state);
    this.open.add(state);
    socket.once("close", () => {
      clearTimeout(state.initTimer);
      this.open.delete(state);
    });
    socket.prependListener("message", (data: Frame, isBinary: boolean) =>
      this.onFrame(state, data, isBinary),
    );
  }

  private onFrame(state: ConnectionState, data: Frame, isBinary: boolean) {
    if (isBinary || (state.initialised && bufferOf(data).length > CONTROL_FRAME_BYTES)) return;
    const message = frame(data);
    if (!message) return;
    const { socket } = state;
    if (!state.initialised) {
      if (message.type === "connection_init") {
        if (this.options.admits(message.payload)) {
          state.initialised = true;
          clearTimeout(state.initTimer);
        } else {
          socket.close(CLOSE_UNAUTHORIZED, "Unauthorized: connection_init needs a bearer token");
        }
      } else if (message.type === "subscribe" || message.type === "start") {
        socket.close(CLOSE_UNAUTHORIZED, "Unauthorized: send connection_init first");
      }
      return;
    }
    if (message.type === "connection_init") {
      socket.close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests");
    } else if (
      (message.type === "complete" || message.type === "stop") &&
      typeof message.id === "string"
    ) {
      state.subscriptions.delete(message.id);
    }
  }

  /** Drops sockets whose client stopped reading: their messages would queue without end. */
  private sweep(): void {
    const { wsMaxBufferedBytes, wsStallMs } = this.options.limits;
    const now = Date.now();
    for (const state of this.open) {
      const buffered = state.socket.bufferedAmount;
      if (buffered === 0) {
        state.stalledSince = undefined;
        continue;
      }
      state.stalledSince ??= now;
      if (buffered > wsMaxBufferedBytes || now - state.stalledSince >= wsStallMs) {
        this.options.logger.warn(
          { buffered, stalledMs: now - state.stalledSince },
          "dropped a WebSocket whose client stopped reading",
        );
        this.open.delete(state);
        state.socket.terminate();
      }
    }
  }
}

type Frame = Buffer | ArrayBuffer | Buffer[];

function bufferOf(data: Frame): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function frame(data: Frame): { type?: unknown; id?: unknown; payload?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(bufferOf(data).toString("utf8"));
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

interface SubscriptionContext {
  request?: { raw?: IncomingMessage };
  id?: unknown;
}

type SubscribeFn = (
  root: unknown,
  args: unknown,
  ctx: SubscriptionContext,
  info: unknown,
) => unknown;

/**
 * The Subscription resolvers with their slots given back when their stream ends, however it
 * ends. A coded error a resolver throws (the caller's mistake) ends the subscription through
 * its stream, so it reaches the client as an error message without an error-level log line
 * (mercurius logs errors thrown while a subscription starts as its own).
 */
export function withSubscriptionSlots(resolvers: IResolvers, guard: SocketGuard): IResolvers {
  const fields = resolvers.Subscription as Record<string, { subscribe: SubscribeFn }> | undefined;
  if (!fields) return resolvers;
  const wrapped: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    const subscribe = field.subscribe;
    wrapped[name] = {
      ...field,
      subscribe: async (root: unknown, args: unknown, ctx: SubscriptionContext, info: unknown) => {
        const release = () => guard.release(ctx.request?.raw, ctx.id);
        try {
          const stream = (await subscribe(root, args, ctx, info)) as AsyncIterable<unknown>;
          return withCleanup(stream, release);
        } catch (err) {
          release();
          if (!isCoded(err)) throw err;
          return failing(err);
        }
      },
    };
  }
  return { ...resolvers, Subscription: wrapped } as IResolvers;
}

function isCoded(err: unknown): boolean {
  const code = (err as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === "string" && code !== "INTERNAL";
}

/** A stream whose first read fails with `err`. */
function failing(err: unknown): AsyncIterableIterator<never> {
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => Promise.reject(err instanceof Error ? err : new Error(String(err))),
    return: () => Promise.resolve({ done: true, value: undefined }),
  };
}
