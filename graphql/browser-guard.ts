import type {
  IncomingHttpHeaders,
  IncomingMessage,
  RequestListener,
  ServerResponse,
} from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { ConfigError, type ErrorCode } from "../core/errors";
import { codedErrorBody, sendCodedError } from "./http-errors";

/**
 * Which `Host` and `Origin` values the API answers. Loopback names are always allowed; `hosts`
 * and `origins` add to them, and `"*"` allows any.
 */
export interface BrowserPolicy {
  /** Extra host names (no port), e.g. `weft.internal`; or `"*"`. */
  readonly hosts: readonly string[] | "*";
  /** Extra origins (`scheme://host[:port]`), e.g. `https://weft.example.com`; or `"*"`. */
  readonly origins: readonly string[] | "*";
  /** Set when either list was given: then it is enforced even with auth on. */
  readonly configured: boolean;
}

export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/** `WEFT_ALLOWED_HOSTS` and `WEFT_ALLOWED_ORIGINS`, comma-separated. */
export function browserPolicyFromEnv(env: NodeJS.ProcessEnv): BrowserPolicy {
  const list = (name: string) =>
    (env[name] ?? "")
      .split(",")
      .map((v) => v.trim().toLowerCase())
      .filter(Boolean);
  const hosts = list("WEFT_ALLOWED_HOSTS");
  const origins = list("WEFT_ALLOWED_ORIGINS");
  for (const host of hosts) {
    if (host !== "*" && !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(host)) {
      throw new ConfigError(
        `WEFT_ALLOWED_HOSTS takes host names without scheme or port (e.g. weft.internal), got ${JSON.stringify(host)}`,
      );
    }
  }
  for (const origin of origins) {
    if (origin !== "*" && normaliseOrigin(origin) !== origin) {
      throw new ConfigError(
        `WEFT_ALLOWED_ORIGINS takes origins like https://weft.example.com (scheme, host, optional port), got ${JSON.stringify(origin)}`,
      );
    }
  }
  return Object.freeze({
    hosts: hosts.includes("*") ? "*" : hosts,
    origins: origins.includes("*") ? "*" : origins,
    configured: hosts.length > 0 || origins.length > 0,
  });
}

/** Loopback names and origins only. */
export const DEFAULT_BROWSER_POLICY: BrowserPolicy = Object.freeze({
  hosts: [],
  origins: [],
  configured: false,
});

export interface BrowserGuardOptions {
  policy: BrowserPolicy;
  /** With bearer tokens a foreign page cannot act for the user: the lists apply only if given. */
  authEnabled: boolean;
}

interface Refusal {
  code: ErrorCode;
  message: string;
}

/** What refuses a request's headers, or undefined when the policy does not apply. */
function refusalOf(options: BrowserGuardOptions) {
  const { policy } = options;
  if (options.authEnabled && !policy.configured) return undefined;
  const hosts = policy.hosts === "*" ? undefined : new Set([...LOOPBACK_HOSTS, ...policy.hosts]);
  const origins = policy.origins === "*" ? undefined : new Set(policy.origins);
  return (headers: IncomingHttpHeaders): Refusal | undefined => {
    const host = hostName(headers.host);
    if (hosts && (host === undefined || !hosts.has(host))) {
      return {
        code: "HOST_NOT_ALLOWED",
        message:
          `Host ${JSON.stringify(headers.host ?? "")} is not allowed: this API answers loopback names` +
          " (and WEFT_ALLOWED_HOSTS); set WEFT_ALLOWED_HOSTS, or turn on bearer tokens (WEFT_API_TOKENS)",
      };
    }
    const origin = headers.origin;
    if (origins && origin !== undefined && !isAllowedOrigin(origin, origins)) {
      return {
        code: "ORIGIN_NOT_ALLOWED",
        message:
          `Origin ${JSON.stringify(origin)} is not allowed: only pages on loopback addresses` +
          " (and WEFT_ALLOWED_ORIGINS) may call this API",
      };
    }
    return undefined;
  };
}

/**
 * Refuses, before any work, a request (HTTP or a WebSocket upgrade, on every route) whose `Host`
 * is not an allowed name — a DNS-rebinding page reaches the API under its own domain — or whose
 * `Origin` is a page on another site. Requests without `Origin` (curl, the CLI, same-origin
 * navigation) pass the origin check. With auth off this is what keeps a web page the user
 * visits from starting, signalling or reading runs.
 */
export const browserGuardPlugin = fastifyPlugin(
  (app: FastifyInstance, options: BrowserGuardOptions, done: (err?: Error) => void) => {
    const refusal = refusalOf(options);
    if (!refusal) return done();
    app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, next) => {
      const refused = refusal(request.headers);
      if (!refused) return next();
      reply.log.info({ code: refused.code }, refused.message);
      if (request.headers.upgrade) {
        // A refused WebSocket upgrade: nothing else owns its socket, so it closes after the answer.
        reply.raw.once("finish", () => request.raw.socket.destroy());
      }
      sendCodedError(reply, 403, refused.code, refused.message);
    });
    done();
  },
  { name: "weft-browser-guard" },
);

/** The same guard in front of a plain request listener (the api role's, while it starts). */
export function guardListener(listener: RequestListener, options: BrowserGuardOptions) {
  const refusal = refusalOf(options);
  if (!refusal) return listener;
  return (request: IncomingMessage, response: ServerResponse) => {
    const refused = refusal(request.headers);
    if (!refused) return listener(request, response);
    response
      .writeHead(403, { "content-type": "application/json; charset=utf-8" })
      .end(JSON.stringify(codedErrorBody(refused.code, refused.message)));
  };
}

/** The host name of a `Host` header, lower case, without the port. */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end === -1 ? undefined : value.slice(0, end + 1);
  }
  const colon = value.indexOf(":");
  return colon === -1 ? value : value.slice(0, colon);
}

function isAllowedOrigin(origin: string, extra: ReadonlySet<string>): boolean {
  const normalised = normaliseOrigin(origin);
  if (normalised === undefined) return false;
  if (extra.has(normalised)) return true;
  const url = new URL(normalised);
  return (
    (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTS.includes(url.hostname)
  );
}

/** `scheme://host[:port]` in lower case, or undefined when it is not such an origin. */
function normaliseOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.origin === "null" || origin.toLowerCase() !== url.origin) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
