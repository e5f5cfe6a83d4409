import { createHash, timingSafeEqual } from "node:crypto";
import mercurius from "mercurius";
import { ConfigError } from "../core/errors";

/** What a request may do: `admin` everything, `read` queries and subscriptions. */
export type Access = "admin" | "read" | "none";

export interface ApiTokens {
  /** May query, subscribe and mutate. */
  readonly admin: readonly string[];
  /** May query and subscribe. */
  readonly read: readonly string[];
}

const MIN_TOKEN_LENGTH = 16;

/** `WEFT_API_TOKENS` and `WEFT_API_READ_TOKENS`, comma-separated; none set leaves the API open. */
export function tokensFromEnv(env: NodeJS.ProcessEnv): ApiTokens {
  const list = (name: string) =>
    (env[name] ?? "")
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
  const tokens = { admin: list("WEFT_API_TOKENS"), read: list("WEFT_API_READ_TOKENS") };
  for (const token of [...tokens.admin, ...tokens.read]) {
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError(
        `API tokens must be at least ${MIN_TOKEN_LENGTH} characters (WEFT_API_TOKENS, WEFT_API_READ_TOKENS)`,
      );
    }
  }
  return tokens;
}

/**
 * Checks bearer tokens. Tokens are compared as SHA-256 digests in constant time, so neither
 * their content nor their length leaks through timing.
 */
export class ApiAuth {
  private readonly admin: Buffer[];
  private readonly read: Buffer[];

  constructor(tokens: ApiTokens = { admin: [], read: [] }) {
    this.admin = tokens.admin.map(digest);
    this.read = tokens.read.map(digest);
  }

  /** With no tokens configured every request is admin. */
  get enabled(): boolean {
    return this.admin.length > 0 || this.read.length > 0;
  }

  /** The access an `Authorization` header value grants. */
  accessOf(authorization: unknown): Access {
    if (!this.enabled) return "admin";
    if (typeof authorization !== "string") return "none";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return "none";
    const given = digest(match[1]!);
    // Every configured token is compared, so the time does not say which one matched.
    let access: Access = "none";
    for (const token of this.read) if (timingSafeEqual(token, given)) access = "read";
    for (const token of this.admin) if (timingSafeEqual(token, given)) access = "admin";
    return access;
  }
}

/** Throws the coded GraphQL error for an operation the access does not allow. */
export function assertAllowed(access: Access, operation: "query" | "mutation" | "subscription") {
  if (access === "none") {
    throw new mercurius.ErrorWithProps(
      "this API needs a bearer token: send Authorization: Bearer <token>",
      { code: "UNAUTHENTICATED" },
      401,
    );
  }
  if (operation === "mutation" && access !== "admin") {
    throw new mercurius.ErrorWithProps(
      "this token is read-only: it may query and subscribe, not start, signal or cancel",
      { code: "FORBIDDEN" },
      403,
    );
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}
