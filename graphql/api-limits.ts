import { ConfigError } from "../core/errors";

/**
 * What one request or connection may cost the API. Every GraphQL document is held to these
 * before it runs: its size and token count before it is parsed, its depth, aliases, directives
 * and cost before it executes. Validated once, then frozen.
 */
export interface ApiLimits {
  /** A document longer than this is refused before it is parsed (413 PAYLOAD_TOO_LARGE). */
  readonly maxDocumentBytes: number;
  /** Parsing stops at this many tokens (GRAPHQL_VALIDATION_FAILED). */
  readonly maxTokens: number;
  /** Fields nested deeper than this are refused. */
  readonly maxDepth: number;
  /** Aliases per operation. */
  readonly maxAliases: number;
  /** Directives per operation. */
  readonly maxDirectives: number;
  /**
   * The cost of an operation: 1 per scalar, 2 per object, children weighted 1.5 per level, a
   * list multiplied by its `first` (a literal, a variable's value or the schema's default).
   */
  readonly maxCost: number;
  /**
   * Parsed and validated documents kept (and their compiled form), and as many refused ones.
   * Each holds at most `maxTokens` tokens of at most `maxDocumentBytes`: about 0.25 MB with its
   * compiled form at the default limits, so the two caches stay under about 30 MB.
   */
  readonly documentCacheSize: number;
  /** Mutations per client address per minute (429 RATE_LIMITED above it). */
  readonly mutationsPerMinute: number;
  /** A WebSocket that has not sent an accepted `connection_init` by then is closed (4408). */
  readonly wsInitTimeoutMs: number;
  /** Subscriptions one WebSocket may hold at once (TOO_MANY_SUBSCRIPTIONS above it). */
  readonly wsMaxSubscriptions: number;
  /** A WebSocket with more unsent bytes than this is dropped. */
  readonly wsMaxBufferedBytes: number;
  /** A WebSocket whose unsent bytes have not drained for this long is dropped. */
  readonly wsStallMs: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = Object.freeze({
  maxDocumentBytes: 64 * 1024,
  maxTokens: 1000,
  maxDepth: 8,
  maxAliases: 15,
  maxDirectives: 20,
  maxCost: 5000,
  documentCacheSize: 64,
  mutationsPerMinute: 1200,
  wsInitTimeoutMs: 5000,
  wsMaxSubscriptions: 50,
  wsMaxBufferedBytes: 4 * 1024 * 1024,
  wsStallMs: 10_000,
});

/** Each limit's environment variable and its bounds. */
const LIMITS: Record<keyof ApiLimits, { env: string; min: number; max: number }> = {
  maxDocumentBytes: { env: "WEFT_GRAPHQL_MAX_DOCUMENT_BYTES", min: 256, max: 1024 * 1024 },
  maxTokens: { env: "WEFT_GRAPHQL_MAX_TOKENS", min: 10, max: 100_000 },
  maxDepth: { env: "WEFT_GRAPHQL_MAX_DEPTH", min: 1, max: 100 },
  maxAliases: { env: "WEFT_GRAPHQL_MAX_ALIASES", min: 0, max: 10_000 },
  maxDirectives: { env: "WEFT_GRAPHQL_MAX_DIRECTIVES", min: 0, max: 10_000 },
  maxCost: { env: "WEFT_GRAPHQL_MAX_COST", min: 1, max: 100_000_000 },
  documentCacheSize: { env: "WEFT_GRAPHQL_CACHE_SIZE", min: 1, max: 100_000 },
  mutationsPerMinute: { env: "WEFT_GRAPHQL_MUTATIONS_PER_MINUTE", min: 1, max: 10_000_000 },
  wsInitTimeoutMs: { env: "WEFT_GRAPHQL_WS_INIT_TIMEOUT_MS", min: 50, max: 600_000 },
  wsMaxSubscriptions: { env: "WEFT_GRAPHQL_WS_MAX_SUBSCRIPTIONS", min: 1, max: 100_000 },
  wsMaxBufferedBytes: {
    env: "WEFT_GRAPHQL_WS_MAX_BUFFERED_BYTES",
    min: 64 * 1024,
    max: 1024 * 1024 * 1024,
  },
  wsStallMs: { env: "WEFT_GRAPHQL_WS_STALL_MS", min: 100, max: 3_600_000 },
};

/**
 * The limits from `WEFT_GRAPHQL_*` variables; `overrides` win, anything unset keeps its
 * default. A value outside its bounds is an INVALID_CONFIG error naming the variable.
 */
export function apiLimitsFromEnv(
  env: NodeJS.ProcessEnv,
  overrides: Partial<ApiLimits> = {},
): ApiLimits {
  const limits = { ...DEFAULT_API_LIMITS };
  for (const key of Object.keys(LIMITS) as (keyof ApiLimits)[]) {
    const { env: name, min, max } = LIMITS[key];
    const raw: unknown = overrides[key] ?? env[name];
    if (raw === undefined || raw === "") continue;
    const value = typeof raw === "number" ? raw : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(
        `${name} (${key}) must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}

/** Names of the variables, for messages that tell the caller which limit to raise. */
export function limitVariable(key: keyof ApiLimits): string {
  return LIMITS[key].env;
}
