/**
 * What a GraphQL error answer says and how it is logged. A caller's mistake keeps its message,
 * gets a client code and a 4xx status, and is logged at debug; anything else is Weft's own
 * fault: INTERNAL, its message hidden from the caller and logged whole at error level.
 */
import type { FastifyBaseLogger } from "fastify";
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from "graphql";
import type { ErrorCode } from "../core/errors";
import { limitVariable } from "./api-limits";

export interface FormattedErrors {
  statusCode: number;
  response: { data: ExecutionResult["data"]; errors: GraphQLFormattedError[] };
}

interface Classified {
  /** A Weft code, or one a resolver's error already carried. */
  code: string;
  status: number;
  source: GraphQLError;
  internal?: unknown;
}

/** Status codes fastify and mercurius give request errors, as Weft codes. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  405: "METHOD_NOT_ALLOWED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
};

/** graphql-js's message when the parser stops at `maxTokens`. */
const TOKEN_LIMIT = /^Syntax Error: Document contains more that (\d+) tokens/;

/** graphql-js's messages for variable values that do not coerce to their declared types. */
const VARIABLE_VALUE_ERROR =
  /^Variable "\$[^"]+" (got invalid value|of required type|of non-null type)/;

/**
 * mercurius' `errorFormatter`: the answer for `execution.errors`. `answered` hears the code of
 * every error answered (INTERNAL for Weft's own faults), for the API's metrics.
 */
export function createErrorFormatter(answered: (code: string) => void = () => undefined) {
  return (
    execution: ExecutionResult & { statusCode?: number },
    context: { reply?: { log: FastifyBaseLogger }; app?: { log: FastifyBaseLogger } },
  ): FormattedErrors => {
    const log = context.reply?.log ?? context.app?.log;
    const classified = (execution.errors ?? []).flatMap(classify);
    for (const c of classified) answered(c.internal !== undefined ? "INTERNAL" : c.code);
    const errors = classified.map((c): GraphQLFormattedError => {
      if (c.internal !== undefined) {
        log?.error({ err: c.internal, path: c.source.path }, "GraphQL internal error");
        return {
          message: "internal error: see the Weft API log",
          locations: c.source.locations,
          path: c.source.path,
          extensions: { code: "INTERNAL" },
        };
      }
      log?.debug({ code: c.code }, c.source.message);
      // Built field by field: compiled queries' errors are not graphql-js's class.
      const { message, locations, path, extensions } = c.source;
      return { message, locations, path, extensions: { ...extensions, code: c.code } };
    });
    // A partial result is 200 (GraphQL over HTTP); a request refused as a whole carries the
    // status of its first error.
    const statusCode = execution.data ? 200 : (classified[0]?.status ?? 500);
    return { statusCode, response: { data: execution.data ?? null, errors } };
  };
}

function classify(error: GraphQLError): Classified[] {
  const original: (Error & { code?: unknown; statusCode?: unknown; errors?: unknown }) | undefined =
    error.originalError;
  // Errors of compiled queries (graphql-jit) may have no extensions.
  const given: unknown = (error.extensions as GraphQLError["extensions"] | undefined)?.code;
  const status = typeof original?.statusCode === "number" ? original.statusCode : undefined;
  if (typeof given === "string") {
    // Weft's own coded errors: a field error is part of a 200 answer, a refusal has its status.
    return [client(error, given, error.path ? 200 : (status ?? 200))];
  }
  if (original?.code === "MER_ERR_GQL_VALIDATION" && Array.isArray(original.errors)) {
    return (original.errors as unknown[]).map((inner) => {
      if (!(inner instanceof GraphQLError)) {
        // The request's shape (the route's JSON schema): not a GraphQL document at all.
        return client(asGraphQLError(inner), "BAD_REQUEST", 400);
      }
      if (VARIABLE_VALUE_ERROR.test(inner.message)) return client(inner, "BAD_USER_INPUT", 400);
      const tokens = TOKEN_LIMIT.exec(inner.message);
      if (tokens) {
        const message = `Document contains more than ${tokens[1]} tokens (${limitVariable("maxTokens")})`;
        return client(new GraphQLError(message), "GRAPHQL_VALIDATION_FAILED", 400);
      }
      return client(inner, "GRAPHQL_VALIDATION_FAILED", 400);
    });
  }
  if (original?.code === "MER_ERR_METHOD_NOT_ALLOWED") {
    const reason = Array.isArray(original.errors)
      ? (original.errors[0] as Error | undefined)
      : undefined;
    return [client(asGraphQLError(reason ?? original), "METHOD_NOT_ALLOWED", 405)];
  }
  // A compiled query checks its variables itself: its errors come unwrapped.
  if (!error.path && VARIABLE_VALUE_ERROR.test(error.message)) {
    return [client(error, "BAD_USER_INPUT", 400)];
  }
  if (status !== undefined && status >= 400 && status < 500 && !error.path) {
    return [client(error, CODE_OF_STATUS[status] ?? "BAD_REQUEST", status)];
  }
  return [{ code: "INTERNAL", status: 500, source: error, internal: original ?? error }];
}

function client(source: GraphQLError, code: string, status: number): Classified {
  return { code, status, source };
}

function asGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GraphQLError(message);
}
