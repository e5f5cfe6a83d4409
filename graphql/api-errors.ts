import mercurius from "mercurius";
import { WeftError } from "../core/errors";

/**
 * A GraphQL error whose `extensions` are the WeftError's stable code and its details (such as
 * the workflow ID of a command that was not acknowledged, to send it again with).
 */
export function toGraphQLError(err: unknown): unknown {
  if (WeftError.is(err))
    return new mercurius.ErrorWithProps(err.message, { ...err.details, code: err.code });
  return err;
}

/** Runs a resolver body, turning a WeftError it throws into a coded GraphQL error. */
export async function withErrorCodes<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toGraphQLError(err);
  }
}
